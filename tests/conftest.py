"""Shared fixtures: the real engine on the real default model (one process for the whole session).

Feature-specific fixtures live in each test package's conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.engine_proc import EngineProcess, start_engine
from tests.support.pace import Pace, measure


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
