"""Shared fixtures, in one home: a migrated database in a temporary file, a clock the test sets, and
the real engine on the real default model (one process for the whole session).

Feature-specific fixtures live in each test package's conftest.py (the end-to-end world of users and
channels in tests/e2e/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.support.clock import FakeClock
from tests.support.engine_proc import EngineProcess, start_engine
from tests.support.pace import Pace, measure


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A real SQLite file with every migration applied."""
    async with Database.open(tmp_path / "taleweaver.db") as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand (`clock.now += 60`), for services that take one."""
    return FakeClock()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """The engine with default settings, serving SmolLM2-135M-Instruct on the CPU."""
    proc = start_engine(tmp_path_factory.mktemp("engine"))
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def pace(engine: EngineProcess) -> Pace:
    """How fast the model writes on this machine right now (one reference generation)."""
    return measure(engine.url)
