"""One request's sequences merged into a single stream of text deltas.

`Generation.deltas()` is the request's async generator (as in vLLM's front end): it turns each sequence's
token events into text, cuts at stop strings, and ends each sequence through `Engine.end`. Leaving it in
any way (the last choice finished, an exception, the consumer cancelled or gone) runs `close()`, which
aborts what is left. There are no helper tasks to cancel: the only abort path is `Engine.end(seq, ABORTED)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.sequence import SeqStatus, Sequence, TokenEvent
from engine.textstream import IncrementalDetokenizer, StopMatcher

if TYPE_CHECKING:
    from engine.core import Engine


@dataclass(frozen=True)
class Delta:
    index: int
    text: str
    finish: str | None = None  # "stop", "length" or "error" on a choice's last delta
    error: str | None = None


class _Choice:
    """Text state of one sequence: its detokenizer and stop-string matcher."""

    def __init__(self, engine: Engine, seq: Sequence) -> None:
        loaded = engine.loaded
        assert loaded is not None
        self.detok = IncrementalDetokenizer(loaded.tokenizer, frozenset(loaded.eos_token_ids))
        self.stops = StopMatcher(seq.params.stop)


class Generation:
    def __init__(self, engine: Engine, seqs: list[Sequence], position: int) -> None:
        self.engine = engine
        self.seqs = seqs
        self.position = position
        self.prompt_tokens = len(seqs[0].prompt_ids)
        self._choices = [_Choice(engine, seq) for seq in seqs]
        self._arrived = asyncio.Event()
        for seq in seqs:
            seq.on_event = self._arrived.set

    @property
    def completion_tokens(self) -> int:
        return sum(s.generated for s in self.seqs)

    @property
    def admitted_at(self) -> float | None:
        """When the first of the request's sequences left the waiting line (time.monotonic), or None."""
        times = [s.admitted for s in self.seqs if s.admitted is not None]
        return min(times) if times else None

    def in_line(self) -> tuple[int, int]:
        """(place in line, about how many seconds until a slot frees) while no sequence runs yet."""
        scheduler = self.engine.scheduler
        assert scheduler is not None
        position = min((scheduler.position(s) for s in self.seqs), default=0)
        return position, scheduler.wait_estimate(position)

    async def deltas(self) -> AsyncGenerator[Delta, None]:
        # aclosing: closing this generator closes the inner one at once, so its `finally` aborts what is left
        async with aclosing(self.deltas_or_ticks(None)) as inner:
            async for delta in inner:
                if delta is not None:
                    yield delta

    async def deltas_or_ticks(self, tick: float | None) -> AsyncGenerator[Delta | None, None]:
        """The deltas, plus None whenever `tick` seconds pass without one (a moment to report the line)."""
        pending = set(range(len(self.seqs)))
        try:
            while pending:
                try:
                    await asyncio.wait_for(self._arrived.wait(), tick)
                except TimeoutError:
                    yield None
                    continue
                self._arrived.clear()
                for index in sorted(pending):
                    for delta in self._drain(index):
                        if delta.finish is not None:
                            pending.discard(index)
                        yield delta
        finally:
            self.close()

    def close(self) -> None:
        """Abort every sequence that has not ended. Idempotent, and safe to call at any time."""
        for seq in self.seqs:
            self.engine.end(seq, SeqStatus.ABORTED)

    def _drain(self, index: int) -> list[Delta]:
        seq, out = self.seqs[index], []
        while (event := seq.poll()) is not None:
            delta = self._convert(index, seq, event)
            if delta is not None:
                out.append(delta)
                if delta.finish is not None:
                    break
        return out

    def _convert(self, index: int, seq: Sequence, event: TokenEvent) -> Delta | None:
        choice = self._choices[index]
        text = choice.stops.feed(choice.detok.push(event.token_ids))
        if choice.stops.stopped:  # a stop string: the choice is complete; ending it stops the backend
            self.engine.end(seq, SeqStatus.FINISHED)
            return Delta(index, text, "stop")
        if event.finish is None:
            return Delta(index, text) if text else None
        self.engine.end(seq, SeqStatus.ABORTED if event.finish == "error" else SeqStatus.FINISHED)
        text += choice.stops.feed(choice.detok.flush())
        text = text if choice.stops.stopped else text + choice.stops.flush()
        finish = "stop" if choice.stops.stopped else event.finish
        return Delta(index, text, finish, event.error)
