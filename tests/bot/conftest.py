"""Fixtures for the bot tests: scripted stand-in servers and engines with tight limits (the database is shared)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.engine_proc import EngineProcess, start_engine

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StartServer = Callable[[dict[tuple[str, str], Handler]], Awaitable[str]]


@pytest.fixture
async def scripted() -> AsyncIterator[StartServer]:
    """Start a tiny HTTP server from `{(method, path): handler}`; returns its base URL. Stopped after the test."""
    servers: list[TestServer] = []

    async def start(routes: dict[tuple[str, str], Handler]) -> str:
        app = web.Application()
        for (method, path), handler in routes.items():
            app.router.add_route(method, path, handler)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


TIGHT_KEY = "k"


@pytest.fixture(scope="session")
def tight_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """The real engine with one slot, one place in line, and an API key: easy to fill, and locked."""
    proc = start_engine(tmp_path_factory.mktemp("tight-engine"), max_batch=1, max_queue=1, api_key=TIGHT_KEY)
    yield proc
    proc.stop()


async def wait_until(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll `condition` until it holds; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {within} s waiting for {what}")
        await asyncio.sleep(0.05)
