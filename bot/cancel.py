"""Generations a person may stop while they wait in the engine's line or stream. Knows nothing of Discord.

A writer opens a `CancelScope` around the code that consumes the engine's stream. `cancel()` cancels
the writer's task; the scope swallows that one cancellation (`Task.uncancel`) so the writer goes on to
say "cancelled" instead of dying. Leaving the engine's stream early closes its HTTP response, which the
engine sees as a disconnect and aborts the sequence: the slot is freed for real, not merely hidden.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType

from bot.errors import NotAllowed, NotFound

Key = tuple[str, int]  # ("poem", poem id) or ("story", story id)


@dataclass(eq=False)
class CancelScope:
    key: Key
    owners: frozenset[int]
    registry: Cancellations
    task: asyncio.Task[object] | None = None
    cancelled_by: int | None = None
    _pending: bool = field(default=False, repr=False)

    async def __aenter__(self) -> CancelScope:
        self.task = asyncio.current_task()
        self.registry._scopes[self.key] = self
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if self.registry._scopes.get(self.key) is self:
            del self.registry._scopes[self.key]
        if self._pending and self.task is not None:
            self._pending = False
            self.task.uncancel()
            return exc_type is asyncio.CancelledError  # ours: swallow it; anything else goes on
        return False

    @property
    def cancelled(self) -> bool:
        return self.cancelled_by is not None


class Cancellations:
    """The scopes open right now, by what they write."""

    def __init__(self) -> None:
        self._scopes: dict[Key, CancelScope] = {}

    def scope(self, kind: str, ref_id: int, owners: Iterable[int]) -> CancelScope:
        return CancelScope((kind, ref_id), frozenset(owners), self)

    def running(self, kind: str, ref_id: int) -> bool:
        return (kind, ref_id) in self._scopes

    def cancel(self, kind: str, ref_id: int, user_id: int, is_moderator: bool) -> CancelScope:
        """Stop a running generation. Only its owners (who asked for it) or a moderator may."""
        scope = self._scopes.get((kind, ref_id))
        if scope is None or scope.task is None or scope.task.done():
            raise NotFound("There is nothing to cancel here: it has already finished.")
        if user_id not in scope.owners and not is_moderator:
            raise NotAllowed("Only the person who asked for this, or a moderator, can cancel it.")
        if scope.cancelled_by is None:
            scope.cancelled_by = user_id
            scope._pending = True
            scope.task.cancel()
        return scope
