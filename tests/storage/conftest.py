"""Fixtures for the storage tests: a migrated database in a temporary file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database.open(tmp_path / "taleweaver.db") as database:
        yield database


class FakeClock:
    """Stands in for the `time` module in a repository, so stored timestamps are chosen by the test."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now
