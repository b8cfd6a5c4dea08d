"""One generated sequence as the scheduler and the backends see it.

A chat request with `n` choices becomes `n` sequences. Backends run in their own thread and report
tokens through `Sequence.emit`, which hands them to the event loop; the request's consumer reads them
with `Sequence.events()`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

_ids = itertools.count()


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class TokenEvent:
    """New tokens for one sequence. `finish` is set on the last event: "stop", "length" or "error"."""

    token_ids: tuple[int, ...]
    finish: str | None = None
    error: str | None = None


@dataclass(eq=False)
class Sequence:
    prompt_ids: list[int]
    params: SamplingParams
    tenant: str
    loop: asyncio.AbstractEventLoop
    id: str = field(default_factory=lambda: f"seq-{next(_ids)}")
    created: float = field(default_factory=time.monotonic)
    admitted: float | None = None
    first_token: float | None = None
    generated: int = 0
    _queue: asyncio.Queue[TokenEvent] = field(default_factory=asyncio.Queue)

    def emit(self, token_ids: list[int] | tuple[int, ...], finish: str | None = None, error: str | None = None) -> None:
        """Thread-safe: called from a backend's worker thread (or the loop) to deliver tokens."""
        event = TokenEvent(tuple(token_ids), finish, error)
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # the loop closed between the check and the call: nobody is listening
            pass

    def _deliver(self, event: TokenEvent) -> None:
        if self.first_token is None and event.token_ids:
            self.first_token = time.monotonic()
        self.generated += len(event.token_ids)
        self._queue.put_nowait(event)

    async def events(self) -> AsyncIterator[TokenEvent]:
        while True:
            event = await self._queue.get()
            yield event
            if event.finish is not None:
                return
