"""Fixtures for the engine's tests: extra engines, HTTP clients, the tokenizer, an in-process engine.

The session-wide `engine` fixture (tests/conftest.py) serves the default model with default settings.
Tests that need other settings start their own engine through `engine_factory`, shared per module.
Helpers (requests, error checks, waiting on /health) live in tests/engine/helpers.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from tests.engine.helpers import openai_client
from tests.support.engine_proc import EngineProcess, start_engine

if TYPE_CHECKING:
    import openai


@pytest.fixture(scope="module")
def engine_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., EngineProcess]]:
    """Start engines with ENGINE_* settings; every one is stopped when the module is done."""
    started: list[EngineProcess] = []

    def start(**settings: object) -> EngineProcess:
        proc = start_engine(tmp_path_factory.mktemp("engine"), **settings)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        yield session


@pytest.fixture
async def client(engine: EngineProcess) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai_client(engine) as c:
        yield c


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """The default model's tokenizer, from the converted cache (converting it first if need be)."""
    from transformers import AutoTokenizer

    from engine.config import EngineConfig
    from engine.loading import convert_gguf, default_gguf_path

    return AutoTokenizer.from_pretrained(str(convert_gguf(default_gguf_path(), EngineConfig().cache_dir, print)))


@pytest.fixture(scope="session")
async def fp32_engine() -> AsyncIterator[Any]:
    """An in-process Engine on the default model in fp32 (exact enough to compare greedy decodes)."""
    from engine.config import EngineConfig
    from engine.core import Engine

    engine = Engine(EngineConfig(device="cpu", dtype="fp32", max_batch=4))
    await engine.load()
    assert engine.state == "ready", engine.error
    yield engine
    await engine.shutdown(grace=0)


@pytest.fixture(scope="session")
async def continuous_engine() -> AsyncIterator[Any]:
    """An in-process Engine on the default model in fp32 with the continuous-batching backend."""
    from engine.config import EngineConfig
    from engine.core import Engine

    engine = Engine(EngineConfig(device="cpu", dtype="fp32", backend="continuous", max_batch=4))
    await engine.load()
    assert engine.state == "ready", engine.error
    yield engine
    await engine.shutdown(grace=0)
