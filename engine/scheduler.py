"""Fair admission of sequences into the backend's running batch.

Requests wait in per-tenant lines. Whenever the backend has a free slot, the scheduler admits from the
tenant with the fewest running sequences (ties: the one served least recently, then the one waiting
longest). A Discord server that floods the engine therefore runs at most as many sequences as any other
server that wants one, and cannot starve it. The waiting area is bounded, both overall and per tenant,
so that a flood is refused with 429 instead of queued for ever.

Each sequence's `status` says where it is; this module is the only one that changes it, in `_move`.
`finish` is the one way out of the scheduler, for sequences that ended and for aborted ones alike:
aborting a RUNNING sequence tells the backend to stop generating it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque

from engine.backends.base import Backend
from engine.sequence import SeqStatus, Sequence


class QueueFull(Exception):
    """Too many requests are waiting; try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FairScheduler:
    def __init__(self, backend: Backend, max_waiting: int, max_waiting_per_tenant: int) -> None:
        self._backend = backend
        self._max_waiting = max_waiting
        self._max_per_tenant = max_waiting_per_tenant
        self._lines: dict[str, deque[Sequence]] = {}  # per tenant, oldest first; done ones are skipped
        self._live: set[Sequence] = set()  # every WAITING or RUNNING sequence
        self._count: Counter[SeqStatus] = Counter()
        self._per_tenant: dict[SeqStatus, Counter[str]] = {SeqStatus.WAITING: Counter(), SeqStatus.RUNNING: Counter()}
        self._last_admitted: dict[str, int] = {}  # tenant -> admission number, for round-robin ties
        self._admissions = 0
        self._wake = asyncio.Event()
        self._seconds_per_sequence = 5.0  # moving average, feeds Retry-After
        self._task: asyncio.Task[None] | None = None

    # --- public -------------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        return self._count[SeqStatus.WAITING]

    @property
    def running(self) -> int:
        """Sequences holding a generation slot. Drops at once when one finishes or is aborted."""
        return self._count[SeqStatus.RUNNING]

    @property
    def ended(self) -> dict[str, int]:
        """How many sequences have finished and how many were aborted, since the start."""
        return {SeqStatus.FINISHED.value: self._count[SeqStatus.FINISHED], "aborted": self._count[SeqStatus.ABORTED]}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="engine-scheduler")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def submit(self, seqs: list[Sequence]) -> int:
        """Queue all of a request's sequences or none; return its position in line (1 = next)."""
        tenant = seqs[0].tenant
        if self.waiting + len(seqs) > self._max_waiting:
            raise QueueFull(
                f"The engine's queue is full ({self._max_waiting} waiting). Try again shortly.",
                self.retry_after(),
            )
        if self._max_per_tenant and self._per_tenant[SeqStatus.WAITING][tenant] + len(seqs) > self._max_per_tenant:
            raise QueueFull(
                f"Too many requests from this tenant are waiting ({self._max_per_tenant} at most).",
                self.retry_after(),
            )
        for seq in seqs:
            self._live.add(seq)
            self._move(seq, SeqStatus.WAITING)
            self._lines.setdefault(tenant, deque()).append(seq)
        self._wake.set()
        return self.waiting

    def sequences(self) -> list[Sequence]:
        """Every sequence still waiting or running."""
        return list(self._live)

    def finish(self, seq: Sequence, status: SeqStatus) -> bool:
        """Take a sequence out: FINISHED when it ended, ABORTED when it is cancelled. The one exit.

        A RUNNING sequence whose backend has not sent its final event is aborted in the backend, so it stops
        consuming decode steps. Returns False if the sequence had already left.
        """
        assert status.done
        if seq.status.done or seq not in self._live:
            return False
        was_running = seq.status == SeqStatus.RUNNING
        self._live.discard(seq)
        self._move(seq, status)
        if was_running:
            if not seq.backend_done:
                self._backend.abort(seq)
            if seq.admitted is not None:
                elapsed = time.monotonic() - seq.admitted
                self._seconds_per_sequence = 0.8 * self._seconds_per_sequence + 0.2 * elapsed
            self._wake.set()
        return True

    def position(self, seq: Sequence) -> int:
        """Where a waiting sequence is in line, roughly (1 = next; fairness may reorder); 0 once it runs."""
        if seq.status != SeqStatus.WAITING:
            return 0
        return 1 + sum(
            1
            for line in self._lines.values()
            for other in line
            if other.status == SeqStatus.WAITING and other.created < seq.created
        )

    def wait_estimate(self, position: int) -> int:
        """About how many seconds the sequence at `position` will wait for a slot."""
        return math.ceil(self._seconds_per_sequence * position / max(1, self._backend.capacity))

    def retry_after(self) -> int:
        slots = max(1, self._backend.capacity)
        estimate = self._seconds_per_sequence * (self.waiting + 1) / slots
        return max(1, min(120, math.ceil(estimate)))

    # --- status changes -----------------------------------------------------------------------------
    def _move(self, seq: Sequence, status: SeqStatus) -> None:
        """The only place a sequence's status changes; keeps the counts in step with it."""
        old = seq.status if seq.status != status else None
        if old is not None or status == SeqStatus.WAITING:  # a new sequence starts out WAITING
            if old is not None:
                self._count[old] -= 1
                if old in self._per_tenant:
                    self._decrement(old, seq.tenant)
            self._count[status] += 1
            if status in self._per_tenant:
                self._per_tenant[status][seq.tenant] += 1
        seq.status = status

    def _decrement(self, status: SeqStatus, tenant: str) -> None:
        counts = self._per_tenant[status]
        counts[tenant] -= 1
        if counts[tenant] <= 0:
            del counts[tenant]
        if all(tenant not in c for c in self._per_tenant.values()):
            # An idle tenant is forgotten (as Deficit Round Robin resets an emptied flow): the maps stay as
            # small as the set of tenants with work, however many servers have ever asked.
            self._last_admitted.pop(tenant, None)

    # --- the admission task -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._admit()

    def _admit(self) -> None:
        while self.running < self._backend.capacity:
            seq = self._next()
            if seq is None:
                return
            self._move(seq, SeqStatus.RUNNING)
            seq.admitted = time.monotonic()
            self._admissions += 1
            self._last_admitted[seq.tenant] = self._admissions
            self._backend.add(seq)

    def _next(self) -> Sequence | None:
        best: tuple[int, int, float] | None = None
        chosen: str | None = None
        for tenant, line in list(self._lines.items()):
            while line and line[0].status != SeqStatus.WAITING:  # aborted while waiting
                line.popleft()
            if not line:
                del self._lines[tenant]
                continue
            # Fewest running first; then whoever was served least recently, so that with equal counts (say
            # one slot, both at zero) a flood's older backlog cannot go ahead of everyone else's request.
            running = self._per_tenant[SeqStatus.RUNNING][tenant]
            key = (running, self._last_admitted.get(tenant, 0), line[0].created)
            if best is None or key < best:
                best, chosen = key, tenant
        return None if chosen is None else self._lines[chosen].popleft()
