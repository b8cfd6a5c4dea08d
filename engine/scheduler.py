"""Fair admission of sequences into the backend's running batch.

Requests enter an `asyncio.Queue`. One task moves them into per-tenant waiting lines and admits them
whenever the backend has a free slot, always from the tenant with the fewest running sequences (ties:
the one served least recently, then the one waiting longest). A Discord server that floods the engine
therefore runs at most as many sequences as any other server that wants one, and cannot starve it. The
waiting area is bounded, both overall and per tenant, so that a flood is refused with 429 instead of
queued for ever.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque

from engine.backends.base import Backend
from engine.sequence import Sequence


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
        self._intake: asyncio.Queue[Sequence] = asyncio.Queue()
        self._lines: dict[str, deque[Sequence]] = {}
        self._waiting: set[Sequence] = set()
        self._running: set[Sequence] = set()
        self._running_per_tenant: Counter[str] = Counter()
        self._waiting_per_tenant: Counter[str] = Counter()
        self._last_admitted: dict[str, int] = {}  # tenant -> admission number, for round-robin ties
        self._admissions = 0
        self._wake = asyncio.Event()
        self._seconds_per_sequence = 5.0  # moving average, feeds Retry-After
        self._task: asyncio.Task[None] | None = None

    # --- public -------------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        return len(self._running)

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
        if self._max_per_tenant and self._waiting_per_tenant[tenant] + len(seqs) > self._max_per_tenant:
            raise QueueFull(
                f"Too many requests from this tenant are waiting ({self._max_per_tenant} at most).",
                self.retry_after(),
            )
        for seq in seqs:
            self._waiting.add(seq)
            self._waiting_per_tenant[tenant] += 1
            self._intake.put_nowait(seq)
        self._wake.set()
        return self.waiting

    def sequences(self) -> list[Sequence]:
        """Every sequence still waiting or running."""
        return [*self._waiting, *self._running]

    def release(self, seq: Sequence) -> bool:
        """Forget a sequence that finished or was abandoned. Returns True if it was running."""
        if seq in self._waiting:
            self._waiting.discard(seq)
            self._waiting_per_tenant[seq.tenant] -= 1
            return False  # it stays in its line and is skipped there
        if seq in self._running:
            self._running.discard(seq)
            self._running_per_tenant[seq.tenant] -= 1
            if seq.admitted is not None:
                elapsed = time.monotonic() - seq.admitted
                self._seconds_per_sequence = 0.8 * self._seconds_per_sequence + 0.2 * elapsed
            self._wake.set()
            return True
        return False

    def position(self, seq: Sequence) -> int:
        """Where a waiting sequence is in line, roughly (1 = next; fairness may reorder); 0 once it runs."""
        if seq not in self._waiting:
            return 0
        return 1 + sum(1 for other in self._waiting if other.created < seq.created)

    def wait_estimate(self, position: int) -> int:
        """About how many seconds the sequence at `position` will wait for a slot."""
        return math.ceil(self._seconds_per_sequence * position / max(1, self._backend.capacity))

    def retry_after(self) -> int:
        slots = max(1, self._backend.capacity)
        estimate = self._seconds_per_sequence * (self.waiting + 1) / slots
        return max(1, min(120, math.ceil(estimate)))

    # --- the admission task -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._intake.empty():
                seq = self._intake.get_nowait()
                self._lines.setdefault(seq.tenant, deque()).append(seq)
            self._admit()

    def _admit(self) -> None:
        while len(self._running) < self._backend.capacity:
            seq = self._next()
            if seq is None:
                return
            self._waiting.discard(seq)
            self._waiting_per_tenant[seq.tenant] -= 1
            self._running.add(seq)
            self._running_per_tenant[seq.tenant] += 1
            seq.admitted = time.monotonic()
            self._admissions += 1
            self._last_admitted[seq.tenant] = self._admissions
            self._backend.add(seq)

    def _next(self) -> Sequence | None:
        best: tuple[int, int, float] | None = None
        chosen: str | None = None
        for tenant, line in list(self._lines.items()):
            while line and line[0] not in self._waiting:  # abandoned while waiting
                line.popleft()
            if not line:
                del self._lines[tenant]
                continue
            # Fewest running first; then whoever was served least recently, so that with equal counts (say
            # one slot, both at zero) a flood's older backlog cannot go ahead of everyone else's request.
            key = (self._running_per_tenant[tenant], self._last_admitted.get(tenant, 0), line[0].created)
            if best is None or key < best:
                best, chosen = key, tenant
        return None if chosen is None else self._lines[chosen].popleft()
