"""bot.craft.best_draft: the best of several drafts, chosen the same way every time."""

from __future__ import annotations

import pytest

from bot.craft import best_draft, get_form

HAIKU = get_form("haiku")
GOOD = "Cold rain on the roofs\na lantern sways by the door\nthe cat counts the drops"
NEAR = "Cold rain on the roofs\na lantern sways beside the door\nthe cat counts the drops"  # 5-8-5
FAR = "The moon over the harbour\nboats sleep\nwaves"


def test_the_passing_draft_wins_wherever_it_is() -> None:
    choice = best_draft([FAR, NEAR, "Here is a haiku:\n" + GOOD], HAIKU)
    assert choice.best.index == 2
    assert choice.best.check.passed
    assert choice.best.poem == GOOD  # cleaned: the preface is gone
    assert choice.first.index == 0 and not choice.first.check.passed
    assert [d.index for d in choice.drafts] == [0, 1, 2]


def test_without_a_passing_draft_the_highest_score_wins() -> None:
    assert best_draft([FAR, NEAR, FAR], HAIKU).best.index == 1


def test_ties_go_to_the_earliest_draft() -> None:
    assert best_draft([NEAR, GOOD, GOOD], HAIKU).best.index == 1
    assert best_draft([FAR, FAR], HAIKU).best.index == 0
    assert best_draft(["", ""], HAIKU).best.index == 0


def test_empty_drafts_score_nothing_and_lose() -> None:
    choice = best_draft(["", "   ", FAR], HAIKU)
    assert choice.best.index == 2
    assert choice.drafts[0].check.score == 0.0
    assert choice.drafts[0].check.summary == "form missed: 0 lines, wants 3"


def test_no_drafts_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one draft"):
        best_draft([], HAIKU)
