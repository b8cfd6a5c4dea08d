"""bot.craft.narration: scoring a narrator's takes, and StoryService posting (or offering) the best ones."""

from __future__ import annotations

import pytest

from bot.craft.narration import TakeContext, copied_run, first_person, rank_takes, score_take
from bot.stories.prompts import _speaks_for_player

CLEAN = (
    "Snow drifts across the courtyard as Mira kneels beside the well. The brass key glints under the ice, "
    "and somewhere above, a shutter bangs in the wind. Bob holds the lantern higher, and the shadows lean away."
)
PROLOGUE = "The tower of Vel stands alone on the hill, its bells silent for a hundred winters, its door sealed."
CONTEXT = TakeContext(names=("Mira", "Bob"), earlier=(PROLOGUE,), lore_keys=("tower of Vel",), author_note="")


@pytest.mark.parametrize(
    "line",
    [
        "Mira: I take the key.",
        '"Mira: I take the key."',
        "“Mira: I take the key.”",
        "**Mira**: I take the key.",
        "> Bob: wait!",
        "'Bob: wait!'",
    ],
)
def test_lines_spoken_for_a_player_are_caught_quoted_or_not(line: str) -> None:
    assert _speaks_for_player(line, ["Mira", "Bob"])


def test_narration_about_players_is_not_speaking_for_them() -> None:
    assert not _speaks_for_player('Mira smiles. "Not yet," the guard says.', ["Mira", "Bob"])


def test_a_clean_take_scores_best_and_each_fault_costs() -> None:
    clean = score_take(CLEAN, CONTEXT)
    assert not clean.problems and clean.score >= 1.0
    faults = {
        "speaks": CLEAN + '\n"Mira: I will take the key now."',
        "other speaker": CLEAN + "\nGuard: Halt! Who goes there?",
        "first person": CLEAN + " I had lost my last relay race, and I will rewrite the story tomorrow.",
        "copies": CLEAN + " " + PROLOGUE,
        "short": "Snow falls.",
    }
    scores = {name: score_take(text, CONTEXT) for name, text in faults.items()}
    assert scores["speaks"].speaks_for_player and scores["other speaker"].other_speaker
    assert scores["first person"].first_person and scores["copies"].copied_run >= 8
    assert all(s.score < clean.score and s.problems for s in scores.values()), scores
    assert scores["speaks"].score < scores["other speaker"].score, "a player's line is the worst fault"


def test_first_person_is_allowed_when_the_story_is_told_so_and_quoted_speech_is_fine() -> None:
    assert first_person("I open the door.") and not first_person('The guard says, "I see you."')
    told_as_i = TakeContext(names=("Mira",), first_person_ok=True)
    assert not score_take("I open the door and the snow comes in with me. " * 3, told_as_i).first_person


def test_lore_and_the_authors_note_count_for_a_take() -> None:
    context = TakeContext(names=("Mira",), lore_keys=("tower of Vel",), author_note="Keep it eerie and wintry")
    plain = score_take(CLEAN, context)
    using = score_take(CLEAN + " The tower of Vel looms, eerie and wintry, over them.", context)
    assert using.lore_used == 1.0 and plain.lore_used == 0.0
    assert using.note_used > plain.note_used and using.score > plain.score


def test_ranking_is_best_first_and_stable() -> None:
    takes = [CLEAN + "\nBob: hurry!", CLEAN, CLEAN]
    assert [i for i, _ in rank_takes(takes, CONTEXT)] == [1, 2, 0]
    assert copied_run("a b c", []) == 0
