"""One generated sequence as the scheduler and the backends see it.

A chat request with `n` choices becomes `n` sequences. `Sequence.status` is the one place that says where
a sequence is: WAITING for a slot, RUNNING in the backend, or done (FINISHED or ABORTED). Only the
scheduler changes it. Backends run in their own thread and report tokens through `Sequence.emit`, which
hands them to the event loop; the request's consumer reads them with `Sequence.events()` or `poll()`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum

_ids = itertools.count()


class SeqStatus(StrEnum):
    WAITING = "waiting"  # queued for a slot; the backend has not seen it
    RUNNING = "running"  # holds a slot; the backend is generating it
    FINISHED = "finished"  # ended normally (end of text, max_tokens or a stop string)
    ABORTED = "aborted"  # cancelled: client gone, timeout, shutdown or an error

    @property
    def done(self) -> bool:
        return self in (SeqStatus.FINISHED, SeqStatus.ABORTED)


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0  # OpenAI: subtracted once from every token already generated
    frequency_penalty: float = 0.0  # OpenAI: subtracted per occurrence in the generated text
    repetition_penalty: float = 1.0  # Hugging Face: divides (or multiplies) logits of prompt and output tokens
    adapter: str | None = None  # a LoRA adapter by name (ENGINE_ADAPTERS); None = the base model

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def penalized(self) -> bool:
        return bool(self.presence_penalty or self.frequency_penalty or self.repetition_penalty != 1.0)


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
    status: SeqStatus = SeqStatus.WAITING
    created: float = field(default_factory=time.monotonic)
    admitted: float | None = None
    first_token: float | None = None
    generated: int = 0
    backend_done: bool = False  # the backend sent its final event: it holds nothing of this sequence now
    on_event: Callable[[], None] | None = None  # called on the loop after each event (a Generation's wake-up)
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
        if event.finish is not None:
            self.backend_done = True
        self._queue.put_nowait(event)
        if self.on_event is not None:
            self.on_event()

    def poll(self) -> TokenEvent | None:
        """The next event if one has arrived, without waiting."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def events(self) -> AsyncIterator[TokenEvent]:
        while True:
            event = await self._queue.get()
            yield event
            if event.finish is not None:
                return
