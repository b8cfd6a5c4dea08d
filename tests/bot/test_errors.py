"""bot.errors.describe: the one place that turns known errors into what the user reads."""

from __future__ import annotations

import pytest

from bot.errors import Conflict, NotAllowed, NotFound, describe
from bot.llm.client import EngineBusy, EngineDown, EngineError, EngineRejected
from bot.text import InputProblem


@pytest.mark.parametrize("error", [NotAllowed("not your turn"), NotFound("no such poem"), Conflict("already running")])
def test_user_facing_errors_are_shown_as_they_are(error: Exception) -> None:
    assert describe(error) == str(error)


def test_input_problems_are_shown_as_they_are() -> None:
    assert describe(InputProblem("The topic is empty.")) == "The topic is empty."


def test_engine_errors_get_friendly_specific_messages() -> None:
    assert "about 7 seconds" in describe(EngineBusy("queue full", retry_after=7.4))
    assert "about 1 seconds" in describe(EngineBusy("queue full", retry_after=0.2))
    assert "shorter" in describe(EngineRejected("too long", code="context_length_exceeded"))
    assert "rephrase" in describe(EngineRejected("bad", code=None))
    assert "not available" in describe(EngineDown("connection refused"))
    assert "stumbled" in describe(EngineError("?"))
    assert "connection refused" not in describe(EngineDown("connection refused"))  # no internals shown


@pytest.mark.parametrize("bug", [KeyError("x"), RuntimeError("boom"), ValueError("bad")])
def test_anything_else_is_a_bug(bug: Exception) -> None:
    assert describe(bug) is None
