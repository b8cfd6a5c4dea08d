"""The continuous-batching backend (the CUDA default) on the CPU: streaming, n, stop strings, disconnects."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.engine.helpers import (
    LONG_PROMPT,
    chat,
    health,
    openai_client,
    sse_events,
    stream_text,
    wait_for,
    wait_for_load,
)
from tests.support.engine_proc import EngineProcess

MESSAGES = [{"role": "user", "content": "Tell me a short fairy tale."}]


@pytest.fixture(scope="module")
def continuous(engine_factory) -> EngineProcess:
    proc = engine_factory(backend="continuous", max_batch=4)
    assert proc.health()["backend"] == "continuous"
    return proc


@pytest.fixture
async def client(continuous):
    async with openai_client(continuous) as c:
        yield c


async def test_streams_a_completion(client: openai.AsyncOpenAI) -> None:
    texts, finishes, chunks = await stream_text(
        client, messages=MESSAGES, max_tokens=8, stream_options={"include_usage": True}
    )
    assert finishes[0] in {"stop", "length"}
    usage = chunks[-1].usage
    assert 0 < usage.completion_tokens <= 8
    if finishes[0] == "length":
        assert usage.completion_tokens == 8
    assert texts[0] == "".join(c.choices[0].delta.content or "" for c in chunks[:-1])


async def test_tiny_limit_finishes_with_length(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": LONG_PROMPT}], max_tokens=3, temperature=0
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 3


async def test_greedy_decoding_repeats(client: openai.AsyncOpenAI) -> None:
    params = dict(model="m", messages=MESSAGES, max_tokens=8, temperature=0)
    first = await client.chat.completions.create(**params)
    again = await client.chat.completions.create(**params)
    assert first.choices[0].message.content == again.choices[0].message.content


async def test_n_choices(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model="m", messages=MESSAGES, n=2, max_tokens=6)
    assert sorted(c.index for c in reply.choices) == [0, 1]
    assert reply.usage.completion_tokens <= 12
    texts, finishes, _ = await stream_text(client, messages=MESSAGES, n=2, max_tokens=4)
    assert set(finishes) == {0, 1} and set(texts) == {0, 1}


async def test_stop_sequence(client: openai.AsyncOpenAI) -> None:
    params = dict(model="m", messages=[{"role": "user", "content": LONG_PROMPT}], max_tokens=16, temperature=0)
    full = (await client.chat.completions.create(**params)).choices[0].message.content
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    cut = await client.chat.completions.create(stop=stop, **params)
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == full[: full.index(stop)]


async def test_disconnect_frees_the_slot(continuous, http) -> None:
    body = chat(LONG_PROMPT, temperature=0, max_tokens=2000, stream=True)
    response = await http.post(f"{continuous.url}/v1/chat/completions", json=body)
    assert response.status == 200
    seen = 0
    async for event in sse_events(response):
        seen += bool(event["choices"][0]["delta"].get("content"))
        if seen == 3:
            break
    assert (await health(http, continuous))["running"] == 1
    response.close()
    assert await wait_for_load(http, continuous, limit=10, running=0) < 5

    async def backend_let_go() -> bool:
        return (await health(http, continuous))["backend_running"] == 0

    await wait_for(backend_let_go, limit=10, what="transformers' batching loop to drop the request")
    # The backend really dropped it: the next requests are served, several at once.
    async with openai_client(continuous) as client:
        replies = await asyncio.gather(
            *(client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=4) for _ in range(2))
        )
    assert all(r.choices[0].finish_reason in {"stop", "length"} for r in replies)
    assert "Traceback" not in continuous.log()
