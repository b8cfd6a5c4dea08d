"""bot.npcs.speech: an NPC never writes for anyone else; stop sequences; who a message addresses."""

from __future__ import annotations

import pytest

from bot.npcs.model import Npc
from bot.npcs.speech import addressed, clean_line, fill, persona, stop_sequences
from bot.story_prompts import MAX_STOPS

OTHERS = ["Alice", "Orrin", "Bob the Brave"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The tide turns. I see a ship.", "The tide turns. I see a ship."),
        ("Mira: The tide turns.", "The tide turns."),  # her own name in front is dropped
        ("**Mira**: Hush.", "Hush."),
        ("I see it.\nAlice: What is it?\nMira: A ship.", "I see it."),  # a player's line and all after it
        ("I see it.\n**Orrin:** Nonsense.", "I see it."),  # another NPC, in bold
        ('"Look," she says. Alice: "Where?"', '"Look," she says.'),  # mid-line turn taking
        ("Aye. Bob the Brave (player): I go.", "Aye."),
        ("Quiet now.\nUser: hi", "Quiet now."),  # generic speaker labels too
        ("Come, @everyone, see!", "Come, @\u200beveryone, see!"),  # mass mentions defused
        ("The conversation so far, most recent last:\nI wait.", "I wait."),  # echoed scaffolding
        ("Alice: I speak first.", ""),  # nothing of her own: nothing to post
    ],
)
def test_clean_line_never_speaks_for_others(raw: str, expected: str) -> None:
    assert clean_line(raw, "Mira", OTHERS) == expected


def test_clean_line_keeps_names_used_in_prose() -> None:
    text = "Alice is brave, and Orrin knows it. Ask Alice why."
    assert clean_line(text, "Mira", OTHERS) == text


def test_clean_line_trims_an_unfinished_sentence_when_truncated() -> None:
    assert clean_line("I saw the ship. It was sailing towards the", "Mira", OTHERS, truncated=True) == "I saw the ship."


def test_stop_sequences_most_recent_speakers_first_within_the_api_limit() -> None:
    stops = stop_sequences("Mira", ["Alice", "mira", "Orrin", "Bob", "Cara", "Dan"])
    assert stops[:3] == ("\nAlice:", "\nOrrin:", "\nBob:")
    assert len(stops) == MAX_STOPS
    assert "\nMira:" not in stops and "\nmira:" not in stops
    assert stop_sequences("Mira", []) == ("\nUser:",)


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("Mira, what do you see?", "Mira"),
        ("mira: hello", "Mira"),
        ("@Old Mira hello", "Old Mira"),  # the longest name wins
        ("Old Mira!", "Old Mira"),
        ("Mirage ahead", None),  # a word that only starts like a name
        ("Hello Mira", None),  # addressing is at the start
        ("", None),
    ],
)
def test_addressed(text: str, who: str | None) -> None:
    npcs = [Npc(name="Mira", id=1), Npc(name="Old Mira", id=2), Npc(name="Orrin", id=3)]
    found = addressed(npcs, text)
    assert (found.name if found else None) == who


def test_card_placeholders_are_filled() -> None:
    npc = Npc(name="Mira", description="{{char}} watches {{user}}.", mes_example="<START>\n{{user}}: hi\n{{char}}: Hm.")
    sheet = persona(npc, "Alice")
    assert "Mira watches Alice." in sheet and "Alice: hi\nMira: Hm." in sheet and "<START>" not in sheet
    assert fill("<USER> and <BOT>", "Mira", "Al") == "Al and Mira"
