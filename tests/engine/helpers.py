"""Helpers for the engine's tests: raw HTTP and the openai client, OpenAI error checks, waiting on /health."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from tests.support.engine_proc import ROOT, EngineProcess, free_port

if TYPE_CHECKING:  # imported where used, so that the GPU machine's tests run without the openai package
    import openai

# Greedy decoding of this prompt writes hundreds of tokens without stopping: a reliably long generation.
LONG_PROMPT = "Write a very long story about a dragon, at least 2000 words."
ERROR_KEYS = {"message", "type", "param", "code"}


def openai_client(engine: EngineProcess, api_key: str | None = None) -> openai.AsyncOpenAI:
    """The official client, without its automatic retries (they would hide 429s and 503s)."""
    import openai

    return openai.AsyncOpenAI(
        base_url=engine.api_base, api_key=api_key or engine.api_key or "unused", max_retries=0, timeout=300
    )


def chat(content: str = "Say hello.", **params: Any) -> dict[str, Any]:
    return {"model": "default", "messages": [{"role": "user", "content": content}], **params}


@dataclass
class Reply:
    status: int
    headers: Any
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


async def post(
    http: aiohttp.ClientSession,
    engine: EngineProcess,
    body: Any = None,
    *,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    path: str = "/v1/chat/completions",
) -> Reply:
    """POST raw bytes (or `body` as JSON, NaN and Infinity included) and read the whole answer."""
    payload = data if data is not None else json.dumps(body)
    async with http.post(f"{engine.url}{path}", data=payload, headers=headers or {}) as response:
        return Reply(response.status, response.headers, await response.text())


def assert_openai_error(reply: Reply, status: int, param: str | None = None, code: str | None = None) -> dict:
    """The reply is OpenAI's error shape, as JSON, with this status (and param/code when given)."""
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    assert "Traceback" not in reply.text
    body = reply.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


async def health(http: aiohttp.ClientSession, engine: EngineProcess) -> dict[str, Any]:
    async with http.get(f"{engine.url}/health") as response:
        return await response.json()


async def wait_for(
    check: Callable[[], Awaitable[bool]], limit: float, what: str = "condition", interval: float = 0.02
) -> float:
    """Poll `check` until it is true; return how long that took. Fails the test after `limit` seconds."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > limit:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - started


async def wait_for_load(
    http: aiohttp.ClientSession, engine: EngineProcess, limit: float, running: int, waiting: int = 0
) -> float:
    """Wait until /health reports exactly this many running and waiting sequences."""

    async def check() -> bool:
        info = await health(http, engine)
        return info["running"] == running and info["queue_depth"] == waiting

    return await wait_for(check, limit, f"running={running}, queue_depth={waiting}")


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[Any]:
    """The `data:` payloads of a server-sent-event stream, parsed; `[DONE]` comes through as the string."""
    async for raw in response.content:
        line = raw.decode().strip()
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            yield data if data == "[DONE]" else json.loads(data)


async def metric(http: aiohttp.ClientSession, engine: EngineProcess, name: str) -> float:
    """One sample's value from /metrics, e.g. `taleweaver_engine_requests_total{outcome="ok"}` (0 if absent)."""
    headers = {"Authorization": f"Bearer {engine.api_key}"} if engine.api_key else {}
    async with http.get(f"{engine.url}/metrics", headers=headers) as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def stream_text(client: openai.AsyncOpenAI, **params) -> tuple[dict[int, str], dict[int, str], list]:
    """Run a streaming request; return its text and finish reason per choice, and every chunk."""
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    chunks = []
    stream = await client.chat.completions.create(model="default", stream=True, **params)
    async for chunk in stream:
        chunks.append(chunk)
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason is not None:
                assert choice.index not in finishes, "a choice finished twice"
                finishes[choice.index] = choice.finish_reason
    return texts, finishes, chunks


def engine_env(**settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update({f"ENGINE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def spawn_engine(log_dir: Path, **settings: object) -> EngineProcess:
    """Start an engine without waiting for it to be ready (start_engine waits)."""
    port = free_port()
    with open(log_dir / "engine.log", "wb") as log:
        env = engine_env(port=port, **settings)
        proc = subprocess.Popen([sys.executable, "-m", "engine"], cwd=ROOT, env=env, stdout=log, stderr=log)
    return EngineProcess(f"http://127.0.0.1:{port}", proc, log_dir / "engine.log")
