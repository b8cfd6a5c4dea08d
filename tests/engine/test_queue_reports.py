"""A streamed request that waits in line hears its place (SSE comments), and ENGINE_REQUEST_TIMEOUT
counts only the time it generates: waiting in line is not generating."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from tests.engine.helpers import LONG_PROMPT, chat
from tests.support.engine_proc import EngineProcess

LIMIT_S = 5  # the engine's request timeout here; two requests ahead each use all of it


@pytest.fixture(scope="module")
def one_slot(engine_factory) -> EngineProcess:
    return engine_factory(max_batch=1, request_timeout=LIMIT_S)


async def read_lines(response: aiohttp.ClientResponse, began: float) -> list[tuple[float, str]]:
    """Every non-empty line of a server-sent-event stream, with when it arrived."""
    return [(time.monotonic() - began, raw.decode().strip()) async for raw in response.content if raw.strip()]


async def test_waiting_in_line_is_reported_and_not_counted_against_the_timeout(one_slot, http) -> None:
    url = f"{one_slot.url}/v1/chat/completions"
    endless = chat(LONG_PROMPT, temperature=0, max_tokens=3000, stream=True)
    began = time.monotonic()
    ahead = [await http.post(url, json=endless) for _ in range(2)]  # each runs until the timeout stops it
    try:
        async with http.post(url, json=chat("Say hello.", max_tokens=1, stream=True)) as response:
            assert response.headers["X-Queue-Position"] in ("1", "2")
            lines = await read_lines(response, began)
    finally:
        for earlier in ahead:
            earlier.close()
    text = [line for _, line in lines]
    running = next(i for i, line in enumerate(text) if line == ": running")
    reports = [line for line in text[:running] if line.startswith(": queued position=")]
    assert reports and all(" eta=" in line for line in reports), text
    assert lines[running][0] > LIMIT_S, "it waited longer than the timeout before it ran"
    data = [json.loads(line[5:]) for line in text if line.startswith("data: {")]
    assert not any("error" in event for event in data), "\n".join(f"{t:.2f} {x[:150]}" for t, x in lines)
    assert text[-1] == "data: [DONE]"
    assert any(choice.get("finish_reason") for event in data for choice in event.get("choices", [])), data
