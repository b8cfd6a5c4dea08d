"""A clock the test sets: call it (an injectable `clock`) or use it as the `time` module's `time()`."""

from __future__ import annotations

T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now
