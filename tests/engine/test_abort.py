"""Aborting: a cancelled sequence leaves the scheduler and stops consuming the backend's decode steps.

Both backends run in-process on the default model. What is asserted comes from the backend's own
counters (`Backend.steps`: decode steps per sequence, counted by the worker as it samples), so these
tests fail if `Backend.abort` does nothing, even though the client would no longer see the tokens.
"""

from __future__ import annotations

import pytest

from engine.core import Engine
from engine.generation import Generation
from engine.protocol import parse_chat_request
from engine.sequence import SeqStatus
from tests.engine.helpers import LONG_PROMPT, wait_for


@pytest.fixture(params=["batched", "continuous"])
def engine(request: pytest.FixtureRequest, fp32_engine: Engine) -> Engine:
    if request.param == "batched":
        return fp32_engine
    return request.getfixturevalue("continuous_engine")


def submit(engine: Engine, max_tokens: int, n: int = 1, tenant: str = "t") -> Generation:
    body = {"messages": [{"role": "user", "content": LONG_PROMPT}], "max_tokens": max_tokens, "temperature": 0, "n": n}
    request = parse_chat_request(body, 4096)
    return engine.submit(engine.prepare(request), request.n, tenant)


async def idle(engine: Engine) -> None:
    assert engine.backend is not None

    async def check() -> bool:
        return engine.backend.live == 0

    await wait_for(check, limit=60, what="the backend to let go of every sequence")


async def test_a_cancelled_sequence_stops_consuming_decode_steps(engine: Engine) -> None:
    backend = engine.backend
    assert backend is not None and engine.scheduler is not None
    doomed = submit(engine, max_tokens=500)
    seq = doomed.seqs[0]
    stream = doomed.deltas()
    async for _ in stream:
        if seq.generated >= 3:
            break
    assert seq.status == SeqStatus.RUNNING and backend.steps[seq.id] >= 3
    await stream.aclose()  # what happens when the client goes away: the generator is closed
    assert seq.status == SeqStatus.ABORTED
    assert engine.scheduler.running == 0  # the slot is free at once
    at_abort = backend.steps[seq.id]

    # Give the backend real work beside it; a backend that ignored the abort would decode both together.
    other = submit(engine, max_tokens=12)
    deltas = [d async for d in other.deltas()]
    assert deltas[-1].finish == "length"
    assert backend.steps[other.seqs[0].id] >= 12
    assert backend.steps[seq.id] <= at_abort + 1  # at most the step that was already under way
    await idle(engine)


async def test_closing_a_generation_aborts_all_its_choices_and_counts_them(engine: Engine) -> None:
    backend = engine.backend
    assert backend is not None and engine.scheduler is not None
    before = engine.scheduler.ended["aborted"]
    generation = submit(engine, max_tokens=500, n=3)
    async for _ in generation.deltas():
        if all(s.generated >= 2 for s in generation.seqs):
            break
    generation.close()
    assert [s.status for s in generation.seqs] == [SeqStatus.ABORTED] * 3
    assert engine.scheduler.ended["aborted"] == before + 3
    counts = [backend.steps[s.id] for s in generation.seqs]
    follow_up = submit(engine, max_tokens=8)
    assert [d async for d in follow_up.deltas()][-1].finish == "length"
    assert all(backend.steps[s.id] <= c + 1 for s, c in zip(generation.seqs, counts, strict=True))
    await idle(engine)


async def test_a_sequence_cancelled_while_waiting_never_reaches_the_backend(fp32_engine: Engine) -> None:
    backend, scheduler = fp32_engine.backend, fp32_engine.scheduler
    assert backend is not None and scheduler is not None
    busy = [submit(fp32_engine, max_tokens=500, tenant=f"busy-{i}") for i in range(backend.capacity)]
    waiting = submit(fp32_engine, max_tokens=500, tenant="late")

    async def full() -> bool:
        return scheduler.running == backend.capacity

    await wait_for(full, limit=60, what="every slot to be taken")
    assert waiting.seqs[0].status == SeqStatus.WAITING and scheduler.waiting == 1
    waiting.close()
    assert waiting.seqs[0].status == SeqStatus.ABORTED and scheduler.waiting == 0
    for generation in busy:
        generation.close()
    await idle(fp32_engine)
    assert backend.steps[waiting.seqs[0].id] == 0
