"""bot.stories.rules: story options, whose turn it is, vote results and durations (no database)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.errors import UserFacingError
from bot.stories.rules import (
    MAX_ROUNDS,
    StoryOptions,
    contributions,
    parse_duration,
    vote_seconds,
    vote_winner,
    whose_turn,
    word_count,
)
from bot.text import InputProblem
from storage.stories import Phase, Player, Story
from storage.turns import Turn
from storage.votes import Vote

STORY = Story(
    id=1, guild_id=1, channel_id=2, starter_id=1, title="t", genre="g", premise="p", mode="round-robin",
    turn_timeout=0, max_rounds=0, narrate_every=3, choices=0, phase=Phase.TURNS, paused=False, round=1, deadline=None,
    author_note="", summary="", summary_upto=0, lobby_message_id=None, created_at=0.0, ended_at=None,
)  # fmt: skip
PLAYERS = [
    Player(1, uid, name, pos, 0.0, None) for pos, (uid, name) in enumerate([(10, "Ada"), (20, "Bo"), (30, "Cy")], 1)
]


def turn(author: int | None, kind: str = "player", seq: int = 1) -> Turn:
    return Turn(seq, 1, seq, 1, kind, author, "text", 1, 1, 0.0, None)


def options(**changes: object) -> StoryOptions:
    return replace(StoryOptions(title="The Salt Road", genre="fantasy", premise="A caravan."), **changes)


# --- options ----------------------------------------------------------------------------------------


def test_valid_options_are_cleaned() -> None:
    got = options(
        title="  The   Salt\nRoad \u200b", genre=" weird  west ", premise="Line one\r\n\n\n\nline two "
    ).validated()
    assert (got.title, got.genre, got.premise) == ("The Salt Road", "weird west", "Line one\n\nline two")
    assert (got.mode, got.turn_timeout, got.max_rounds, got.narrate_every, got.choices) == ("round-robin", 0, 0, 3, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "The title is empty"),
        ({"title": "\u200b\u200d\ufeff"}, "The title is empty"),
        ({"title": "x" * 101}, "The title is 101 characters long; the limit is 100."),
        ({"premise": "  \n "}, "The premise is empty"),
        ({"premise": "p" * 1001}, "The premise is 1,001 characters long; the limit is 1,000."),
        ({"genre": "g" * 61}, "The genre is 61 characters long"),
    ],
)
def test_bad_text_is_refused_with_a_specific_message(changes: dict, message: str) -> None:
    with pytest.raises(InputProblem, match=message):
        options(**changes).validated()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "chaos"}, "Unknown mode 'chaos'"),
        ({"turn_timeout": 9}, "between 10 seconds and 24 hours"),
        ({"turn_timeout": 24 * 3600 + 1}, "between 10 seconds and 24 hours"),
        ({"turn_timeout": -30}, "between 10 seconds and 24 hours"),
        ({"max_rounds": -1}, f"Rounds must be between 1 and {MAX_ROUNDS}"),
        ({"max_rounds": MAX_ROUNDS + 1}, f"Rounds must be between 1 and {MAX_ROUNDS}"),
        ({"narrate_every": 0}, "every 1 to 10 contributions"),
        ({"narrate_every": 11}, "every 1 to 10 contributions"),
        ({"choices": 1}, "2 or 3 continuations"),
        ({"choices": 4}, "2 or 3 continuations"),
    ],
)
def test_bad_settings_are_refused_with_a_specific_message(changes: dict, message: str) -> None:
    with pytest.raises(UserFacingError, match=message):
        options(**changes).validated()


@pytest.mark.parametrize(
    "changes",
    [{"turn_timeout": 10}, {"turn_timeout": 24 * 3600}, {"max_rounds": MAX_ROUNDS}, {"choices": 2}, {"mode": "free"}],
)
def test_settings_at_the_limits_are_accepted(changes: dict) -> None:
    assert options(**changes).validated() == options(**changes)


# --- whose turn -------------------------------------------------------------------------------------


def test_whose_turn_goes_round_robin_in_join_order() -> None:
    assert whose_turn(STORY, PLAYERS, []) == PLAYERS[0]
    assert whose_turn(STORY, PLAYERS, [turn(10)]) == PLAYERS[1]
    assert whose_turn(STORY, PLAYERS, [turn(10), turn(20, "skip")]) == PLAYERS[2]  # a skip uses up the turn
    assert whose_turn(STORY, PLAYERS, [turn(10), turn(20), turn(30)]) is None  # the narrator's turn
    assert whose_turn(STORY, PLAYERS, [turn(20)]) == PLAYERS[0]  # order, not who wrote last
    assert whose_turn(STORY, PLAYERS, [turn(None, "narrator")]) == PLAYERS[0]
    assert whose_turn(STORY, [], []) is None


def test_whose_turn_is_nobody_outside_round_robin_turns() -> None:
    assert whose_turn(replace(STORY, mode="free"), PLAYERS, []) is None
    for phase in ("lobby", "narrating", "voting", "held", "ended"):
        assert whose_turn(replace(STORY, phase=phase), PLAYERS, []) is None


def test_contributions_count_only_player_turns() -> None:
    assert contributions([turn(10), turn(20, "skip"), turn(None, "narrator"), turn(10)]) == 2
    assert contributions([]) == 0


def test_word_count() -> None:
    assert word_count("  The   salt\nroad  ") == 3
    assert word_count("") == 0


# --- votes ------------------------------------------------------------------------------------------


def vote(n: int) -> Vote:
    return Vote(1, 1, 1, tuple(f"option {i}" for i in range(n)), 0.0, None, None, None)


def test_vote_winner_majority_ties_and_no_votes() -> None:
    assert vote_winner(vote(3), {1: 2, 2: 2, 3: 0}) == (2, [1, 0, 2])
    assert vote_winner(vote(3), {1: 2, 2: 1}) == (1, [0, 1, 1])  # a tie goes to the earlier option
    assert vote_winner(vote(3), {}) == (0, [0, 0, 0])  # no votes: the first option
    assert vote_winner(vote(2), {1: 5, 2: -1, 3: 1}) == (1, [0, 1])  # out-of-range ballots are ignored
    assert vote_winner(vote(0), {}) == (0, [])


def test_vote_seconds_follow_the_turn_timeout() -> None:
    assert vote_seconds(STORY) == 120
    assert vote_seconds(replace(STORY, turn_timeout=45)) == 45


# --- durations --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("90s", 90), ("5m", 300), ("2h", 7200), ("1.5h", 5400), ("10", 600), (" 5 min ", 300), ("30sec", 30),
        ("2HR", 7200), ("", 0), (None, 0), ("0", 0), ("off", 0), ("None", 0),
    ],
)  # fmt: skip
def test_parse_duration(raw: str | None, seconds: int) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["abc", "5x", "-5m", "m", "5mm", "1e400s", "1e999", "nan", "inf"])
def test_parse_duration_refuses_what_it_cannot_read(raw: str) -> None:
    with pytest.raises(UserFacingError, match="I could not read the timeout"):
        parse_duration(raw)
