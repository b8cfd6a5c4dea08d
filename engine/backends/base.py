"""The interface every generation backend implements, and the counters each keeps of its own work."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict

from engine.loading import LoadedModel
from engine.sequence import Sequence

_REMEMBERED = 4096  # sequences whose step counts are kept (the oldest are forgotten)


class BackendDead(RuntimeError):
    """The backend cannot generate any more (its worker died); the engine must be restarted."""


class StepCounter:
    """Decode steps the backend ran for each sequence: written by its worker, read by tests and /health.

    A sequence that has been aborted must stop gaining steps; this is how the tests see that it did, from
    the backend's own side rather than from what reached the client.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: OrderedDict[str, int] = OrderedDict()
        self.total = 0  # forward passes that produced at least one token

    def count(self, seq_ids: list[str]) -> None:
        if not seq_ids:
            return
        with self._lock:
            self.total += 1
            for seq_id in seq_ids:
                self._steps[seq_id] = self._steps.get(seq_id, 0) + 1
                self._steps.move_to_end(seq_id)
            while len(self._steps) > _REMEMBERED:
                self._steps.popitem(last=False)

    def __getitem__(self, seq_id: str) -> int:
        with self._lock:
            return self._steps.get(seq_id, 0)


class Backend(ABC):
    """Generates tokens for admitted sequences and reports them through `Sequence.emit`.

    `add` and `abort` are called on the event loop and must not block. Every added sequence gets exactly
    one final event (with `finish` set) unless it is aborted first; after `abort` it gets none, and the
    backend stops spending decode steps on it. `abort` of a sequence the backend already finished is a no-op.
    """

    name: str = "base"

    def __init__(self, loaded: LoadedModel, capacity: int) -> None:
        self.loaded = loaded
        self.capacity = capacity
        self.fatal_error: str | None = None
        self.steps = StepCounter()

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def add(self, seq: Sequence) -> None: ...

    @abstractmethod
    def abort(self, seq: Sequence) -> None: ...

    @abstractmethod
    def stop(self) -> None:
        """Stop generating and release the worker. Blocking; call it in a thread."""

    @property
    @abstractmethod
    def live(self) -> int:
        """Sequences the backend itself still holds (queued to it or being decoded), from its own tables."""

    @property
    def alive(self) -> bool:
        return self.fatal_error is None
