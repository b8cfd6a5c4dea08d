"""Many requests at once: batching, the bounded queue (429), disconnects, fairness and timeouts."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import openai
import pytest

from tests.engine.helpers import (
    LONG_PROMPT,
    assert_openai_error,
    chat,
    health,
    metric,
    openai_client,
    post,
    sse_events,
    wait_for,
    wait_for_load,
)
from tests.support.engine_proc import EngineProcess

# A generation that runs for many seconds unless something stops it.
ENDLESS = chat(LONG_PROMPT, temperature=0, max_tokens=3000, stream=True)
DISCONNECTED = 'taleweaver_engine_requests_total{outcome="disconnected"}'
ABORTED = 'taleweaver_engine_sequences_total{status="aborted"}'


@pytest.fixture(scope="module")
def narrow(engine_factory) -> EngineProcess:
    """One running sequence, two waiting (one per tenant): the queue bounds are easy to reach."""
    return engine_factory(max_batch=1, max_queue=2)


@pytest.fixture(scope="module")
def two_slots(engine_factory) -> EngineProcess:
    return engine_factory(max_batch=2)


@pytest.fixture(scope="module")
def impatient(engine_factory) -> EngineProcess:
    return engine_factory(request_timeout=1)


async def open_stream(http: aiohttp.ClientSession, engine: EngineProcess, **params) -> aiohttp.ClientResponse:
    """Start a long streaming request; return the open response (the caller closes it)."""
    response = await http.post(f"{engine.url}/v1/chat/completions", json={**ENDLESS, **params})
    assert response.status == 200, await response.text()
    return response


async def test_eight_simultaneous_requests_all_complete(engine, http) -> None:
    async with openai_client(engine) as client:
        replies = await asyncio.gather(
            *(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"Name a color, please ({i})."}], max_tokens=8
                )
                for i in range(8)
            )
        )
    assert len(replies) == 8
    for reply in replies:
        assert reply.choices[0].finish_reason in {"stop", "length"}
        assert reply.usage.completion_tokens <= 8
    await wait_for_load(http, engine, limit=5, running=0)


async def test_full_queue_answers_429_with_retry_after(narrow, http) -> None:
    streams = [await open_stream(http, narrow, user="A")]
    try:
        await wait_for_load(http, narrow, limit=30, running=1)
        streams.append(await open_stream(http, narrow, user="B"))
        await wait_for_load(http, narrow, limit=30, running=1, waiting=1)

        same_tenant = await post(http, narrow, chat(user="B", max_tokens=4))  # B already has one waiting
        error = assert_openai_error(same_tenant, 429, code="queue_full")
        assert error["type"] == "rate_limit_error"
        assert "tenant" in error["message"]
        assert int(same_tenant.headers["Retry-After"]) >= 1

        streams.append(await open_stream(http, narrow, user="C"))  # another tenant may still queue
        await wait_for_load(http, narrow, limit=30, running=1, waiting=2)
        full = await post(http, narrow, chat(user="D", max_tokens=4))
        assert_openai_error(full, 429, code="queue_full")
        assert 1 <= int(full.headers["Retry-After"]) <= 120

        async with openai_client(narrow) as client:
            with pytest.raises(openai.RateLimitError) as caught:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], user="E")
        assert caught.value.response.headers["Retry-After"].isdigit()
    finally:
        for response in streams:
            response.close()
    # Closing the connections frees the running slot and both waiting places.
    await wait_for_load(http, narrow, limit=10, running=0)
    reply = await post(http, narrow, chat(max_tokens=2))
    assert reply.status == 200


async def test_disconnect_mid_stream_frees_the_slot_promptly(narrow, http) -> None:
    """What /health's `running` and `backend_running` promise: both drop when a client goes away."""
    before = await metric(http, narrow, DISCONNECTED)
    aborted_before = await metric(http, narrow, ABORTED)
    response = await open_stream(http, narrow)
    chunks = 0
    async for event in sse_events(response):
        chunks += event != "[DONE]" and bool(event["choices"][0]["delta"].get("content"))
        if chunks == 3:
            break
    info = await health(http, narrow)
    assert (info["running"], info["backend_running"]) == (1, 1)
    assert await metric(http, narrow, "taleweaver_engine_running") == 1
    response.close()
    freed_after = await wait_for_load(http, narrow, limit=10, running=0)
    assert freed_after < 5

    async def backend_let_go() -> bool:
        return (await health(http, narrow))["backend_running"] == 0

    await wait_for(backend_let_go, limit=10, what="the backend to drop the sequence")
    assert await metric(http, narrow, "taleweaver_engine_running") == 0

    async def counted() -> bool:
        return (
            await metric(http, narrow, DISCONNECTED) == before + 1
            and await metric(http, narrow, ABORTED) == aborted_before + 1
        )

    await wait_for(counted, limit=5, what="the disconnect to be counted")

    started = time.monotonic()  # the single slot serves the next request at once
    reply = await post(http, narrow, chat(max_tokens=2))
    assert reply.status == 200
    assert time.monotonic() - started < 30


async def test_disconnect_while_waiting_and_while_not_streaming(narrow, http) -> None:
    running = await open_stream(http, narrow, user="A")
    try:
        await wait_for_load(http, narrow, limit=30, running=1)
        # A non-streaming request whose client gives up while it waits for the busy slot.
        body = {**ENDLESS, "stream": False, "user": "B"}
        with pytest.raises(TimeoutError):
            await http.post(f"{narrow.url}/v1/chat/completions", json=body, timeout=aiohttp.ClientTimeout(total=1))
        await wait_for_load(http, narrow, limit=10, running=1, waiting=0)
    finally:
        running.close()
    await wait_for_load(http, narrow, limit=10, running=0)

    # A non-streaming request whose client gives up while it is being generated.
    with pytest.raises(TimeoutError):
        await http.post(
            f"{narrow.url}/v1/chat/completions",
            json={**ENDLESS, "stream": False},
            timeout=aiohttp.ClientTimeout(total=1.5),
        )
    await wait_for_load(http, narrow, limit=10, running=0)


async def test_a_flooding_tenant_does_not_starve_another(two_slots, http) -> None:
    """Tenant A sends 20 requests, tenant B two just after: B must not wait behind A's whole backlog."""
    order: list[str] = []

    async def request(user: str) -> None:
        reply = await post(http, two_slots, chat(LONG_PROMPT, user=user, temperature=0, max_tokens=6))
        assert reply.status == 200, reply.text
        order.append(user)

    flood = [asyncio.create_task(request("A")) for _ in range(20)]

    async def all_of_a_submitted() -> bool:
        info = await health(http, two_slots)
        return info["running"] + info["queue_depth"] + len(order) == 20

    await wait_for(all_of_a_submitted, limit=120, what="all of A's requests to be queued")
    late = [asyncio.create_task(request("B")) for _ in range(2)]
    await asyncio.gather(*flood, *late)

    a_before_b_done = order[: order.index("B", order.index("B") + 1)].count("A")
    # First come, first served would finish all 20 of A's first; fair admission gives B a slot at once.
    assert a_before_b_done <= 8, order


async def test_request_timeout_gives_504_and_frees_the_slot(impatient, http) -> None:
    started = time.monotonic()
    reply = await post(http, impatient, {**ENDLESS, "stream": False})
    assert_openai_error(reply, 504, code="timeout")
    assert time.monotonic() - started < 20
    await wait_for_load(http, impatient, limit=10, running=0)
    assert await metric(http, impatient, 'taleweaver_engine_requests_total{outcome="timeout"}') >= 1


async def test_streaming_timeout_ends_with_an_error_event(impatient, http) -> None:
    events = []
    async with http.post(f"{impatient.url}/v1/chat/completions", json=ENDLESS) as response:
        assert response.status == 200
        events = [event async for event in sse_events(response)]
    assert events[-1] == "[DONE]"
    error = events[-2]["error"]
    assert error["code"] == "timeout"
    assert set(error) == {"message", "type", "param", "code"}
    await wait_for_load(http, impatient, limit=10, running=0)


async def test_health_stays_responsive_under_load(engine, http) -> None:
    streams = [await open_stream(http, engine, max_tokens=200) for _ in range(3)]
    try:

        async def quick() -> bool:
            started = time.monotonic()
            info = await health(http, engine)
            assert time.monotonic() - started < 5
            return info["running"] == 3

        await wait_for(quick, limit=30, what="three running")
    finally:
        for response in streams:
            response.close()
    await wait_for_load(http, engine, limit=10, running=0)
