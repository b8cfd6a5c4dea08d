"""bot.stories.prompts: what the narrator is told, its stop sequences, and cleaning what it wrote."""

from __future__ import annotations

import pytest

from bot.stories.prompts import (
    MAX_STOPS,
    NARRATION_CHAR_LIMIT,
    cast_line,
    clean_narration,
    opening_instruction,
    recap_request,
    render_turn,
    round_instruction,
    stop_sequences,
    summary_request,
)
from storage.stories import Player, Story
from storage.turns import Turn


def players(*names: str) -> list[Player]:
    return [Player(1, i, name, i, 0.0, None) for i, name in enumerate(names, start=1)]


CAST = players("Alice", "Bo", "Dr. Who")
STORY_TEXT = "The lantern swings above the salt road.\nWind hisses through the dunes."


def turn(author: int | None, text: str, kind: str = "player") -> Turn:
    return Turn(1, 1, 1, 1, kind, author, text, 1, 1, 0.0, None)


# --- clean_narration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Alice: I draw my sword!",
        "**Alice:** I draw my sword!",
        "**Alice**: I draw my sword!",
        "[Alice (player)]: I draw my sword!",
        "[Alice]: I draw my sword!",
        "alice : I draw my sword!",
        "ALICE: I draw my sword!",
        "Alice：我拔出剑",
        "> Alice: I draw my sword!",
        "- Alice: I draw my sword!",
        "   Alice (player): I draw my sword!",
        "Dr. Who: Allons-y!",
        "[Someone Else (player)]: hello",  # our own transcript format, whoever it names
    ],
)
def test_the_narrator_is_cut_where_it_speaks_as_a_player(line: str) -> None:
    text = f"{STORY_TEXT}\n{line}\nThe caravan moves on."
    assert clean_narration(text, CAST) == STORY_TEXT


@pytest.mark.parametrize(
    "line",
    [
        "Alice's lantern flickers in the wind.",
        "Alice looks up: the sky is green.",
        "Alicetown: a city of salt.",
        "Bob: the innkeeper, who is not a player, shrugs.",
        "Dr X Who: a stranger speaks.",
        "The merchant says: Alice, wait!",
    ],
)
def test_lines_that_only_mention_a_player_are_kept(line: str) -> None:
    text = f"{STORY_TEXT}\n{line}"
    assert clean_narration(text, CAST) == text


def test_narration_that_starts_by_speaking_for_a_player_is_empty() -> None:
    assert clean_narration("Alice: I run.\nThe wind howls.", CAST) == ""


@pytest.mark.parametrize("prefix", ["Narrator: ", "narrator:", "The Narrator : ", "NARRATOR："])
def test_a_leading_narrator_label_is_removed(prefix: str) -> None:
    assert clean_narration(f"  {prefix}{STORY_TEXT}", CAST) == STORY_TEXT
    assert clean_narration(f"{STORY_TEXT} The narrator: watches.", CAST).endswith("The narrator: watches.")


def test_long_narration_is_capped_at_a_sentence_boundary() -> None:
    sentence = "The dunes shift under a copper sky and caravan {} creaks onward. "
    text = "".join(sentence.format(i) for i in range(60))  # distinct sentences: repeats would be dropped
    assert len(text) > NARRATION_CHAR_LIMIT
    cleaned = clean_narration(text, CAST)
    assert len(cleaned) <= NARRATION_CHAR_LIMIT
    assert cleaned.endswith("onward.")
    assert len(cleaned) > NARRATION_CHAR_LIMIT - len(sentence)  # as much as fits, not much less
    assert text.startswith(cleaned)


def test_long_narration_without_a_sentence_end_is_cut_with_an_ellipsis() -> None:
    cleaned = clean_narration("salt" * 1000, CAST)
    assert cleaned.endswith("…")
    assert len(cleaned) <= NARRATION_CHAR_LIMIT + 1


def test_mass_and_role_mentions_are_defused() -> None:
    cleaned = clean_narration("The herald cries @everyone and @here, summoning <@&123>!", CAST)
    assert "@everyone" not in cleaned and "@here" not in cleaned and "<@&123>" not in cleaned
    assert "@\u200beveryone" in cleaned and "@\u200bhere" in cleaned


def test_blank_lines_collapse_and_edges_are_trimmed() -> None:
    assert clean_narration("\r\n\n  One.\r\n\n\n\n\nTwo.  \n\n", CAST) == "One.\n\nTwo."
    assert clean_narration("", CAST) == ""
    assert clean_narration("   \n\n ", []) == ""


# --- stop sequences -------------------------------------------------------------------------------------


def test_stop_sequences_fit_the_api_limit_and_stop_player_lines() -> None:
    many = players("Alice", "Bo", "Cy", "Dee", "Eve", "Fay")
    stops = stop_sequences(many)
    assert len(stops) == MAX_STOPS == 4
    assert stops[:3] == ("\nAlice:", "\nBo:", "\nCy:")
    assert "\n[" in stops
    assert stop_sequences(players("Alice")) == ("\nAlice:", "\n[")
    assert stop_sequences([]) == ("\n[",)
    assert len(set(stops)) == len(stops)


# --- prompt text ------------------------------------------------------------------------------------


def test_turns_render_with_the_speaker_and_the_narrator_plainly() -> None:
    names = {1: "Alice"}
    assert render_turn(turn(1, "I climb."), names) == "[Alice (player)]: I climb."
    assert render_turn(turn(9, "I vanish."), names) == "[A player (player)]: I vanish."
    assert render_turn(turn(None, "Night falls.", "narrator"), names) == "Night falls."
    assert cast_line(CAST) == "The players' characters (never write for them): Alice, Bo, Dr. Who."
    assert "no one yet" in cast_line([])


def test_instructions_name_the_players_and_the_kind_of_part() -> None:
    assert "Alice, Bo, Dr. Who" in opening_instruction(CAST)
    names = {1: "Alice", 2: "Bo"}
    round_turns = [turn(1, "I climb the wall."), turn(2, "", "skip"), turn(None, "old", "narrator")]
    middle = round_instruction(round_turns, names, final=False)
    assert "- Alice: I climb the wall." in middle and "Bo" not in middle and "old" not in middle
    assert "Continue the story" in middle and "ending" not in middle
    ending = round_instruction(round_turns, names, final=True)
    assert "ending of the story" in ending
    assert "nobody acted this round" in round_instruction([turn(2, "", "skip")], names, final=False)


def test_summary_and_recap_requests_carry_the_story() -> None:
    names = {1: "Alice"}
    events = [turn(None, "A storm rises.", "narrator"), turn(1, "I hold the tent.")]
    summary = summary_request("Earlier, a caravan left.", events, names)
    assert [m["role"] for m in summary] == ["system", "user"]
    body = summary[1]["content"]
    assert "Earlier, a caravan left." in body and "A storm rises." in body and "[Alice (player)]: I hold" in body
    assert "(none)" in summary_request("", events, names)[1]["content"]
    story = Story(
        1, 1, 1, 1, "Salt", "fantasy", "A caravan.", "round-robin", 0, 0, 3, 0, "turns", False, 2, None, "", "",
        0, None, 0.0, None,
    )  # fmt: skip
    recap = recap_request(story, "", events, names)[1]["content"]
    assert "Title: Salt" in recap and "A storm rises." in recap and "has just begun" in recap


def test_clean_narration_drops_a_looping_model_s_repeats() -> None:
    looped = "The wind rises. A jewel of gold. A jewel of gold. A jewel of gold.\n\nA jewel of gold. The gate opens."
    assert clean_narration(looped, []) == "The wind rises. A jewel of gold.\n\nThe gate opens."
