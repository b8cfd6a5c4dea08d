"""The interface every generation backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from engine.loading import LoadedModel
from engine.sequence import Sequence


class BackendDead(RuntimeError):
    """The backend cannot generate any more (its worker died); the engine must be restarted."""


class Backend(ABC):
    """Generates tokens for admitted sequences and reports them through `Sequence.emit`.

    `add` and `abort` are called on the event loop and must not block. Every added sequence gets exactly
    one final event (with `finish` set) unless it is aborted first; after `abort` it gets none.
    """

    name: str = "base"

    def __init__(self, loaded: LoadedModel, capacity: int) -> None:
        self.loaded = loaded
        self.capacity = capacity
        self.fatal_error: str | None = None

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
    def alive(self) -> bool:
        return self.fatal_error is None
