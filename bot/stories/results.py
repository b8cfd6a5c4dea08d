"""What the story service hands back: outcomes that tell the caller what to do next, plans and views."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.config import ConfigSnapshot, defaults
from bot.craft.narration import TakeContext
from bot.llm.client import Sampling
from bot.llm.types import ChatMessage
from storage.stories import Player, Story
from storage.turns import Turn, TurnStats
from storage.votes import Vote


class NarrationKind(StrEnum):
    OPENING = "opening"  # round 0: the story begins
    ROUND = "round"  # answering a round of turns
    ENDING = "ending"  # the last round: the story ends with it
    CONTINUATION = "continuation"  # going on with a part that time cut short
    RECAP = "recap"  # a "previously on…" (never stored)


@dataclass(frozen=True)
class Outcome:
    """What a change means for whoever drives the story."""

    story: Story
    turn: Turn | None = None  # the turn that was written, skipped or removed
    next_player: Player | None = None  # round-robin: whose turn it is now (ping them)
    skipped: Player | None = None
    narrate: bool = False  # a narration is due now
    vote: Vote | None = None  # a vote was opened
    cancelled_vote: Vote | None = None  # an open vote was closed without a winner (retry, end)
    player: Player | None = None  # the player who acted, if one did
    note: str = ""  # something to tell the channel


@dataclass(frozen=True)
class NarrationPlan:
    story: Story
    kind: NarrationKind
    messages: list[ChatMessage]
    sampling: Sampling
    players: list[Player]
    prompt_tokens: int
    takes: TakeContext | None = None  # what the narrator's drafts are scored against (bot.craft.narration)
    choices: int = 1  # versions put to a vote (1: no vote); the drafts asked for (`sampling.n`) may be more
    settings: ConfigSnapshot = field(default_factory=defaults)  # the story's channel's, when it was planned

    @property
    def batched(self) -> bool:
        """Several drafts are asked for in one request: the versions of a vote, or the best of
        NARRATION_DRAFTS (one posted)."""
        return self.sampling.n > 1


SettingsAt = Callable[[int, int], Awaitable[ConfigSnapshot]]  # (guild id, channel id) -> the settings there


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    winner: int
    tally: list[int]
    outcome: Outcome


@dataclass(frozen=True)
class StoryView:
    story: Story
    players: list[Player]
    current: Player | None
    stats: TurnStats
    round_contributions: int
    vote: Vote | None
    ballots: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SummaryRequest:
    """Turns up to `upto_seq` are due to be folded into the story's rolling summary with `messages`."""

    story: Story
    upto_seq: int
    messages: list[ChatMessage]
