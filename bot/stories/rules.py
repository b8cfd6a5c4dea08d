"""The rules of a story round that need no database: options, limits, whose turn it is, vote results."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from bot.errors import UserFacingError
from bot.text import clean_input, truncate
from storage.stories import Phase, Player, Story
from storage.turns import Turn
from storage.votes import Vote

TITLE_LIMIT = 100
GENRE_LIMIT = 60
PREMISE_LIMIT = 1000
TURN_LIMIT = 1800
NAME_LIMIT = 40
NOTE_LIMIT = 300
PIN_LIMIT = 300
MAX_PINS = 25
MAX_PLAYERS = 12
MIN_TIMEOUT, MAX_TIMEOUT = 10, 24 * 3600
MAX_ROUNDS = 100
DEFAULT_VOTE_SECONDS = 120
MODES = ("round-robin", "free")


@dataclass(frozen=True)
class StoryOptions:
    title: str
    genre: str
    premise: str
    mode: str = "round-robin"
    turn_timeout: int = 0  # seconds; 0 = none (round-robin only)
    max_rounds: int = 0  # 0 = until ended
    narrate_every: int = 3  # free mode
    choices: int = 0  # 0 = no vote; 2 or 3 continuations to vote on

    def validated(self) -> StoryOptions:
        if self.mode not in MODES:
            raise UserFacingError(f"Unknown mode {self.mode!r}: choose round-robin or free.")
        if self.turn_timeout and not MIN_TIMEOUT <= self.turn_timeout <= MAX_TIMEOUT:
            raise UserFacingError(f"The turn timeout must be between {MIN_TIMEOUT} seconds and 24 hours (or off).")
        if not 0 <= self.max_rounds <= MAX_ROUNDS:
            raise UserFacingError(f"Rounds must be between 1 and {MAX_ROUNDS} (or 0 for no limit).")
        if not 1 <= self.narrate_every <= 10:
            raise UserFacingError("The narrator can answer every 1 to 10 contributions.")
        if self.choices not in (0, 2, 3):
            raise UserFacingError("Group choice offers 2 or 3 continuations (or 0 to turn it off).")
        return StoryOptions(
            title=clean_input(self.title, field="title", max_length=TITLE_LIMIT, multiline=False),
            genre=clean_input(self.genre, field="genre", max_length=GENRE_LIMIT, multiline=False),
            premise=clean_input(self.premise, field="premise", max_length=PREMISE_LIMIT),
            mode=self.mode,
            turn_timeout=self.turn_timeout,
            max_rounds=self.max_rounds,
            narrate_every=self.narrate_every,
            choices=self.choices,
        )


def whose_turn(story: Story, players: list[Player], round_turns: list[Turn]) -> Player | None:
    """Round-robin: the first player in order who has neither written nor been skipped this round."""
    if not story.round_robin or story.phase != Phase.TURNS:
        return None
    taken = {t.author_id for t in round_turns if t.kind in ("player", "skip")}
    return next((p for p in players if p.user_id not in taken), None)


def contributions(round_turns: list[Turn]) -> int:
    return sum(1 for t in round_turns if t.kind == "player")


def vote_winner(vote: Vote, ballots: dict[int, int]) -> tuple[int, list[int]]:
    """The winning option index and the count per option. Ties go to the earliest option; no votes, to the first."""
    counts = Counter(choice for choice in ballots.values() if 0 <= choice < len(vote.options))
    tally = [counts.get(i, 0) for i in range(len(vote.options))]
    best = max(tally) if tally else 0
    return tally.index(best) if tally else 0, tally


def word_count(text: str) -> int:
    return len(text.split())


def vote_seconds(story: Story) -> int:
    return story.turn_timeout or DEFAULT_VOTE_SECONDS


def parse_duration(raw: str | None) -> int:
    """ "90s", "5m", "2h", or a bare number of minutes; empty, "0" or "off" mean none. Returns seconds."""
    text = (raw or "").strip().lower().replace(" ", "")
    if text in ("", "0", "off", "none", "no"):
        return 0
    units = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :] or "m"
    try:
        value = float(number)
    except ValueError:
        value = -1
    if unit not in units or not 0 < value < math.inf:  # "1e400s" reads as infinity
        raise UserFacingError(f"I could not read the timeout {truncate(repr(raw), 60)}. Write it like 90s, 5m or 2h.")
    return round(value * units[unit])
