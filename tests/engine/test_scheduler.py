"""FairScheduler with a scripted stand-in backend: admission order, bounds, and releasing sequences."""

from __future__ import annotations

import asyncio

import pytest

from engine.backends.base import Backend
from engine.scheduler import FairScheduler, QueueFull
from engine.sequence import SamplingParams, SeqStatus, Sequence


class ScriptedBackend(Backend):
    """Records what the scheduler hands it; generates nothing."""

    name = "scripted"

    def __init__(self, capacity: int) -> None:
        super().__init__(loaded=None, capacity=capacity)  # type: ignore[arg-type]
        self.added: list[Sequence] = []
        self.aborted: list[Sequence] = []

    def start(self) -> None: ...

    def add(self, seq: Sequence) -> None:
        self.added.append(seq)

    def abort(self, seq: Sequence) -> None:
        self.aborted.append(seq)

    def stop(self) -> None: ...

    @property
    def live(self) -> int:
        return len([s for s in self.added if s not in self.aborted and not s.backend_done])


def seq(tenant: str) -> Sequence:
    return Sequence([1, 2, 3], SamplingParams(max_tokens=4), tenant, asyncio.get_running_loop())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
async def make():
    schedulers: list[FairScheduler] = []

    def build(capacity: int, max_waiting: int = 100, per_tenant: int = 100) -> tuple[FairScheduler, ScriptedBackend]:
        backend = ScriptedBackend(capacity)
        scheduler = FairScheduler(backend, max_waiting, per_tenant)
        scheduler.start()
        schedulers.append(scheduler)
        return scheduler, backend

    yield build
    for scheduler in schedulers:
        await scheduler.close()


async def finish_first_running(scheduler: FairScheduler, backend: ScriptedBackend) -> Sequence:
    done = next(s for s in backend.added if s in scheduler.sequences() and s not in backend.aborted)
    done.backend_done = True  # as if the backend had sent its final event
    assert scheduler.finish(done, SeqStatus.FINISHED) is True
    await settle()
    return done


async def test_admits_up_to_capacity_and_queues_the_rest(make) -> None:
    scheduler, backend = make(capacity=2)
    seqs = [seq("A") for _ in range(5)]
    positions = [scheduler.submit([s]) for s in seqs]
    assert positions == [1, 2, 3, 4, 5]
    await settle()
    assert backend.added == seqs[:2]
    assert (scheduler.running, scheduler.waiting) == (2, 3)
    assert all(s.admitted is not None for s in seqs[:2]) and seqs[2].admitted is None


async def test_releasing_a_running_sequence_admits_the_next(make) -> None:
    scheduler, backend = make(capacity=1)
    first, second = seq("A"), seq("A")
    scheduler.submit([first])
    scheduler.submit([second])
    await settle()
    first.backend_done = True
    assert scheduler.finish(first, SeqStatus.FINISHED) is True
    await settle()
    assert backend.added == [first, second]
    assert (scheduler.running, scheduler.waiting) == (1, 0)
    assert (first.status, second.status) == (SeqStatus.FINISHED, SeqStatus.RUNNING)
    assert scheduler.finish(first, SeqStatus.ABORTED) is False  # already gone: nothing happens twice
    assert first.status == SeqStatus.FINISHED and backend.aborted == []


async def test_a_released_waiting_sequence_is_never_admitted(make) -> None:
    scheduler, backend = make(capacity=1)
    running, abandoned, later = seq("A"), seq("B"), seq("C")
    for s in (running, abandoned, later):
        scheduler.submit([s])
    await settle()
    assert scheduler.finish(abandoned, SeqStatus.ABORTED) is True
    assert abandoned.status == SeqStatus.ABORTED
    assert scheduler.waiting == 1 and backend.aborted == []  # it was waiting: the backend never saw it
    running.backend_done = True
    scheduler.finish(running, SeqStatus.FINISHED)
    await settle()
    assert backend.added == [running, later]
    assert abandoned not in scheduler.sequences()


async def test_the_tenant_with_fewest_running_goes_first(make) -> None:
    scheduler, backend = make(capacity=2)
    flood = [seq("A") for _ in range(6)]
    for s in flood:
        scheduler.submit([s])
    await settle()
    late = [seq("B"), seq("B")]
    for s in late:
        scheduler.submit([s])
    await settle()
    assert backend.added == flood[:2]
    await finish_first_running(scheduler, backend)  # A: 1 running, B: 0 -> B goes next
    assert backend.added[-1] is late[0]
    await finish_first_running(scheduler, backend)  # A: 0 running, B: 1 -> A
    assert backend.added[-1] is flood[2]
    await finish_first_running(scheduler, backend)  # B's first is done: B: 0, A: 1 -> B
    assert backend.added[-1] is late[1]


async def test_a_flood_cannot_starve_a_tenant_even_with_one_slot(make) -> None:
    """With a single slot both tenants always have 0 running: ties must not go to the flood's backlog."""
    scheduler, backend = make(capacity=1)
    flood = [seq("A") for _ in range(5)]
    for s in flood:
        scheduler.submit([s])
    await settle()
    late = seq("B")
    scheduler.submit([late])
    await settle()
    await finish_first_running(scheduler, backend)
    assert backend.added == [flood[0], late]


async def test_ties_between_new_tenants_go_to_the_one_waiting_longest(make) -> None:
    scheduler, backend = make(capacity=1)
    blocker, c, b = seq("A"), seq("C"), seq("B")  # C's request is older than B's
    for s in (blocker, b, c):
        scheduler.submit([s])
    await settle()
    await finish_first_running(scheduler, backend)
    assert backend.added == [blocker, c]


async def test_per_tenant_waiting_bound(make) -> None:
    scheduler, _ = make(capacity=1, max_waiting=10, per_tenant=2)
    scheduler.submit([seq("A")])
    await settle()  # running now, so it does not count as waiting
    scheduler.submit([seq("A")])
    scheduler.submit([seq("A")])
    with pytest.raises(QueueFull) as caught:
        scheduler.submit([seq("A")])
    assert "tenant" in str(caught.value) and 1 <= caught.value.retry_after <= 120
    scheduler.submit([seq("B")])  # other tenants are unaffected
    assert scheduler.waiting == 3


async def test_global_waiting_bound_is_all_or_nothing(make) -> None:
    scheduler, _ = make(capacity=1, max_waiting=3, per_tenant=10)
    scheduler.submit([seq("A")])
    await settle()
    scheduler.submit([seq("B"), seq("B")])
    with pytest.raises(QueueFull) as caught:
        scheduler.submit([seq("C"), seq("C")])  # a request with n=2 needs two places; one is left
    assert "queue is full" in str(caught.value)
    assert scheduler.waiting == 2
    scheduler.submit([seq("C")])
    assert scheduler.waiting == 3


async def test_retry_after_is_bounded(make) -> None:
    scheduler, _ = make(capacity=1)
    assert 1 <= scheduler.retry_after() <= 120
    for _ in range(50):
        scheduler.submit([seq("A")])
    assert scheduler.retry_after() == 120  # 5 s a sequence, 50 waiting on one slot


async def test_aborting_a_running_sequence_stops_it_in_the_backend(make) -> None:
    scheduler, backend = make(capacity=2)
    cancelled, stopped_early, done = seq("A"), seq("B"), seq("C")
    for s in (cancelled, stopped_early, done):
        scheduler.submit([s])
    await settle()
    assert scheduler.running == 2 and all(s.status == SeqStatus.RUNNING for s in (cancelled, stopped_early))
    assert scheduler.finish(cancelled, SeqStatus.ABORTED)
    # A stop string ends a choice the backend is still generating: it finishes, and the backend must stop.
    await settle()
    assert scheduler.finish(stopped_early, SeqStatus.FINISHED)
    await settle()
    done.backend_done = True  # the backend itself finished this one: it holds nothing to abort
    assert scheduler.finish(done, SeqStatus.FINISHED)
    assert backend.aborted == [cancelled, stopped_early]
    assert (scheduler.running, scheduler.waiting) == (0, 0)
    assert scheduler.ended == {"finished": 2, "aborted": 1}


async def test_idle_tenants_are_forgotten(make) -> None:
    scheduler, _ = make(capacity=1)
    for i in range(50):
        s = seq(f"tenant-{i}")
        scheduler.submit([s])
        await settle()
        s.backend_done = True
        scheduler.finish(s, SeqStatus.FINISHED)
    await settle()
    assert scheduler._last_admitted == {}
    assert all(not counts for counts in scheduler._per_tenant.values())
