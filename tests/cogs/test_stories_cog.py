"""cogs/stories without Discord's network: what the cog states and how it words a story's state.

The cog's behaviour through Discord (the real discord.py against the loopback fake) is in tests/e2e.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.stories import phases
from bot.stories.phases import Phase
from bot.stories.results import StoryView
from bot.stories.rules import TURN_LIMIT
from cogs.admin.help import SECTIONS
from cogs.stories.render import narrator_header, status_embed, vote_result
from cogs.stories.views import TurnModal
from storage.stories import Story
from storage.turns import TurnStats
from tests.bot.test_story_rules import PLAYERS, STORY

ROOT = Path(__file__).resolve().parents[2]


def test_the_turn_limit_is_stated_the_same_everywhere() -> None:
    """One limit: the form, the command options, /help and the README all state TURN_LIMIT."""
    stated = f"{TURN_LIMIT:,} characters"
    assert TurnModal.text.max_length == TURN_LIMIT  # Discord counts down to the real limit, not to 4,000
    assert stated in (TurnModal.text.placeholder or "")
    help_lines = {command: what for section in SECTIONS for command, what, _ in section.commands}
    assert stated in help_lines["/story add"] and stated in help_lines["/story write"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"up to {stated}" in readme


@pytest.mark.parametrize("phase", list(Phase))
def test_every_phase_is_worded_in_one_place(phase: Phase) -> None:
    story = replace(STORY, phase=phase)
    embed = status_embed(_view(story))
    assert embed.fields[0].value == phases.status(phase)
    assert phases.doing(story) and phases.doing(replace(story, paused=True)) == "paused"


def test_a_phase_is_stored_as_its_old_string() -> None:
    """No migration: the enum's values are the strings the database already holds."""
    assert [str(p) for p in Phase] == ["lobby", "narrating", "turns", "voting", "held", "ended"]
    assert Phase("voting") is Phase.VOTING and Phase.TURNS == "turns"


def test_the_narrators_heading_names_the_round() -> None:
    assert narrator_header(STORY).endswith("· Round 1\n\n")
    assert narrator_header(0).endswith("· Prologue\n\n")


def test_a_vote_result_says_how_it_was_decided() -> None:
    assert vote_result(1, [1, 2]).startswith("🗳️ Option 2 wins.")
    assert "a tie goes to the earlier option" in vote_result(0, [1, 1])
    assert vote_result(0, [0, 0]).startswith("🗳️ Nobody voted, so option 1 was chosen.")


def _view(story: Story) -> StoryView:
    return StoryView(story, PLAYERS, None, TurnStats(turns=0, words=0, by_author={}), 0, None)
