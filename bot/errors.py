"""Errors the user should see, as opposed to bugs.

Services raise these with a specific, friendly message; the bot's one error handler shows the message
privately to whoever triggered it. Anything else is a bug: logged with its traceback under an incident
id, and the user sees only an apology with that id.
"""

from __future__ import annotations

from bot.engine_client import EngineBusy, EngineError, EngineRejected, EngineTimeout, EngineUnavailable
from bot.text import InputProblem
from storage.db import StorageUnavailable


class UserFacingError(Exception):
    """Base class: `str(error)` is safe and useful to show the user."""


class NotAllowed(UserFacingError):
    """The user may not do this (not their turn, not a moderator, ...)."""


class NotFound(UserFacingError):
    """What the user referred to does not exist (any more)."""


class Conflict(UserFacingError):
    """The request clashes with the current state (a story is already running here, ...)."""


def describe(error: BaseException) -> str | None:
    """The message to show for a known error, or None for a bug."""
    if isinstance(error, UserFacingError | InputProblem | StorageUnavailable):
        return str(error)
    if isinstance(error, EngineBusy):
        return (
            "🕰️ The storyteller is busy with other tales right now. "
            f"Please try again in about {max(1, round(error.retry_after))} seconds."
        )
    if isinstance(error, EngineRejected):
        if error.code == "context_length_exceeded":
            return "📜 That is more text than the storyteller can keep in mind at once. Please make it shorter."
        return "The storyteller could not take that request. Please rephrase it and try again."
    if isinstance(error, EngineTimeout):
        return "⏳ The storyteller took too long to answer (the machine may be very busy). Please try again."
    if isinstance(error, EngineUnavailable):
        return "😴 The storyteller is not available right now (the model may be starting). Please try again soon."
    if isinstance(error, EngineError):
        return "The storyteller stumbled. Please try again."
    return None
