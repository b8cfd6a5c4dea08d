"""Several drafts of one text in one batched request, within a time budget. Knows nothing of Discord.

The engine writes `n` choices side by side (one request, batched); their tokens arrive interleaved,
each tagged with its index. `write_drafts` collects them per index, reports progress as it goes, and
stops when the budget of generation seconds is spent (closing the stream aborts the request in the
engine): drafts that finished by then are kept as they are, the others as far as they got.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from bot.llm.client import EngineClient, Finished, Queued, Sampling, TextDelta
from bot.llm.types import ChatMessage


@dataclass(frozen=True)
class Drafting:
    """Progress: `tokens` written of at most `budget` (n × max_tokens), `finished` of `drafts` done."""

    drafts: int
    finished: int
    tokens: int
    budget: int

    @property
    def share(self) -> float:
        return min(1.0, self.tokens / self.budget) if self.budget else 0.0


@dataclass(frozen=True)
class Drafts:
    texts: tuple[str, ...]  # every draft, by index, as far as it got
    finish: tuple[str, ...]  # per draft: "stop", "length", "timeout" (ENGINE_TIMEOUT) or "budget" (ours)

    def finished(self) -> list[int]:
        """The drafts that ended by themselves (or at the token limit), not cut by a clock."""
        return [i for i, reason in enumerate(self.finish) if reason in ("stop", "length")]


async def write_drafts(
    engine: EngineClient,
    messages: list[ChatMessage],
    *,
    tenant: str,
    sampling: Sampling,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[Queued | Drafting | Drafts, None]:
    """Yield the place in line, progress, and finally the drafts. The budget counts from the first token
    (time in the engine's line is not writing time)."""
    n = sampling.n
    texts, finish = [""] * n, [""] * n
    tokens, started = 0, None
    async with aclosing(engine.stream(messages, tenant=tenant, sampling=sampling)) as events:
        async for event in events:
            if isinstance(event, Queued):
                yield event
                continue
            if 0 <= event.index < n:
                if isinstance(event, TextDelta):
                    texts[event.index] += event.text
                    tokens += 1
                elif isinstance(event, Finished):
                    finish[event.index] = event.reason
            started = clock() if started is None else started
            yield Drafting(n, sum(1 for f in finish if f), tokens, n * sampling.max_tokens)
            if all(finish) or clock() - started >= seconds:
                break
    yield Drafts(tuple(texts), tuple(reason or "budget" for reason in finish))
