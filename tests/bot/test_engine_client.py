"""bot.engine_client: against the real engine, and against scripted stand-ins for the failures it must map."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.engine_client import (
    EngineBusy,
    EngineClient,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    Finished,
    Queued,
    Sampling,
    TextDelta,
)
from tests.bot.conftest import TIGHT_KEY, StartServer, wait_until
from tests.support.engine_proc import EngineProcess, free_port
from tests.support.pace import Pace

SEA = [{"role": "user", "content": "Tell me about the sea."}]
CHAT = "/v1/chat/completions"


def completion(*texts: str, finish: str = "stop") -> dict:
    return {
        "object": "chat.completion",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish}
            for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


def chunk(text: str | None = None, finish: str | None = None, index: int = 0) -> bytes:
    delta = {} if text is None else {"content": text}
    event = {"object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def error(status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "x", "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


async def sse(request: web.Request, parts: list[bytes], headers: dict[str, str] | None = None) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **(headers or {})})
    await response.prepare(request)
    for part in parts:
        await response.write(part)
        await asyncio.sleep(0.001)  # separate network chunks
    return response


async def collect(client: EngineClient, sampling: Sampling, messages: list[dict] = SEA, tenant: str = "1") -> list:
    return [event async for event in client.stream(messages, tenant=tenant, sampling=sampling)]


def texts_of(events: list, index: int = 0) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta) and e.index == index)


# --- scripted stand-ins -------------------------------------------------------------------------------


async def test_request_body_carries_tenant_as_user_and_the_sampling(scripted: StartServer) -> None:
    bodies: list[dict] = []

    async def chat(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response(completion("ok"))

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, model="some-model") as client:
        sampling = Sampling(max_tokens=9, temperature=0.5, top_p=0.9, top_k=40, stop=("\n\n",), seed=3, n=1)
        await client.complete(SEA, tenant="987654321", sampling=sampling)
        await client.complete(SEA, tenant="5", sampling=Sampling())
    first, second = bodies
    assert first["user"] == "987654321" and second["user"] == "5"
    assert first["model"] == "some-model" and first["stream"] is False and first["messages"] == SEA
    assert {k: first[k] for k in ("max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "n")} == {
        "max_tokens": 9,
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["\n\n"],
        "seed": 3,
        "n": 1,
    }
    assert not {"top_k", "stop", "seed"} & second.keys()  # unset options are left to the server


async def test_each_server_s_requests_name_its_adapter_in_model(scripted: StartServer) -> None:
    bodies: list[dict] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        if body["stream"]:
            return await sse(request, [chunk("ok"), chunk(finish="stop"), b"data: [DONE]\n\n"])
        return web.json_response(completion("ok"))

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "SmolLM2"}, {"id": "noir", "parent": "SmolLM2"}]})

    async def route(tenant: str) -> str | None:
        return {"1": "noir", "2": ""}.get(tenant)

    url = await scripted({("POST", CHAT): chat, ("GET", "/v1/models"): models})
    async with EngineClient(url, model="base") as client:
        await client.complete(SEA, tenant="1", sampling=Sampling())
        client.route_models(route)
        await client.complete(SEA, tenant="1", sampling=Sampling())
        _ = [event async for event in client.stream(SEA, tenant="1", sampling=Sampling())]
        await client.complete(SEA, tenant="2", sampling=Sampling())
        await client.complete(SEA, tenant="3", sampling=Sampling())
        assert await client.models() == ["SmolLM2", "noir"]
    assert [b["model"] for b in bodies] == ["base", "noir", "noir", "base", "base"]


async def test_api_key_is_sent_as_a_bearer_token(scripted: StartServer) -> None:
    seen: list[str | None] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response(completion("ok"))

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, api_key="s3cret") as client:
        await client.complete(SEA, tenant="1", sampling=Sampling())
    async with EngineClient(url) as client:
        await client.complete(SEA, tenant="1", sampling=Sampling())
    assert seen == ["Bearer s3cret", None]


async def test_503_then_200_is_retried(scripted: StartServer) -> None:
    calls = 0

    async def chat(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return error(503, "The model is still loading.", "engine_unavailable", {"Retry-After": "1"})
        return web.json_response(completion("after the wait"))

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        result = await client.complete(SEA, tenant="1", sampling=Sampling())
    assert result.text == "after the wait" and calls == 2


async def test_503_that_persists_gives_up_after_the_retries(scripted: StartServer) -> None:
    calls = 0

    async def chat(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return error(503, "still loading", "engine_unavailable")

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, connect_retries=1) as client:
        with pytest.raises(EngineUnavailable, match="503"):
            await client.complete(SEA, tenant="1", sampling=Sampling())
    assert calls == 2


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("2.5", 2.5), (None, 5.0), ("soon", 5.0)])
async def test_429_is_busy_with_retry_after_and_not_retried(
    scripted: StartServer, header: str | None, expected: float
) -> None:
    calls = 0

    async def chat(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return error(429, "queue full", "queue_full", {"Retry-After": header} if header else None)

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        with pytest.raises(EngineBusy) as info:
            await collect(client, Sampling())
    assert info.value.retry_after == expected and calls == 1


async def test_400_context_length_is_rejected_with_its_code(scripted: StartServer) -> None:
    calls = 0

    async def chat(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return error(400, "This request's prompt is too long.", "context_length_exceeded")

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        with pytest.raises(EngineRejected) as info:
            await client.complete(SEA, tenant="1", sampling=Sampling())
    assert info.value.code == "context_length_exceeded"
    assert "too long" in str(info.value)
    assert calls == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_key_is_unavailable(scripted: StartServer, status: int) -> None:
    async def chat(request: web.Request) -> web.Response:
        return error(status, "Missing or wrong API key", "invalid_api_key")

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, api_key="wrong") as client:
        with pytest.raises(EngineUnavailable, match="ENGINE_API_KEY"):
            await client.complete(SEA, tenant="1", sampling=Sampling())


async def test_500_before_any_text_is_unavailable_and_not_retried(scripted: StartServer) -> None:
    calls = 0

    async def chat(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=500, text="<html>Internal Server Error</html>", content_type="text/html")

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        with pytest.raises(EngineUnavailable, match="500"):
            await client.complete(SEA, tenant="1", sampling=Sampling())
    assert calls == 1


async def test_error_event_mid_stream_raises_after_the_text_so_far(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        failure = {"error": {"message": "Generation failed: CUDA out of memory", "code": "generation_failed"}}
        return await sse(request, [chunk("The "), chunk("sea"), f"data: {json.dumps(failure)}\n\n".encode()])

    url = await scripted({("POST", CHAT): chat})
    seen: list = []
    async with EngineClient(url) as client:
        with pytest.raises(EngineUnavailable, match="out of memory"):
            async for event in client.stream(SEA, tenant="1", sampling=Sampling()):
                seen.append(event)
    assert seen == [TextDelta("The "), TextDelta("sea")]


async def test_malformed_sse_lines_are_skipped(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        whole = b"".join(
            [
                b": a comment line\n\n",
                b"event: ping\n\n",
                b"data: {this is not json\n\n",
                b"data: [1, 2, 3]\n\n",  # JSON, but not an event
                b"data:\n\n",
                b"garbage without a field name\n",
                b"\r\n",
                chunk("Ünce 🌊 "),
                b'data: {"choices": [{"index": 0, "delta": {"content": "upon"}}]}\r\n\r\n',  # CRLF line ends
                b'data: {"choices": null}\n\n',
                chunk(None, finish="stop"),
                b"data: [DONE]\n\n",
                chunk("after the end: never read"),
            ]
        )
        # Network chunks that cut lines (and a multi-byte character) in half.
        return await sse(request, [whole[i : i + 7] for i in range(0, len(whole), 7)], {"X-Queue-Position": "2"})

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        events = await collect(client, Sampling())
    assert events == [Queued(2), TextDelta("Ünce 🌊 "), TextDelta("upon"), Finished("stop")]


async def test_stream_of_two_choices_keeps_their_indices(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        parts = [chunk("a", index=0), chunk("b", index=1), chunk("c", finish="length", index=1)]
        return await sse(request, [*parts, chunk(None, finish="stop", index=0), b"data: [DONE]\n\n"])

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        events = await collect(client, Sampling(n=2))
    assert events == [
        TextDelta("a", 0),
        TextDelta("b", 1),
        TextDelta("c", 1),
        Finished("length", 1),
        Finished("stop", 0),
    ]


async def test_connection_lost_mid_stream_is_unavailable(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(chunk("half a "))
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()  # the engine process died
        return response

    url = await scripted({("POST", CHAT): chat})
    seen: list = []
    async with EngineClient(url) as client:
        with pytest.raises(EngineUnavailable):
            async for event in client.stream(SEA, tenant="1", sampling=Sampling()):
                seen.append(event)
        with pytest.raises(EngineUnavailable):
            await client.complete(SEA, tenant="1", sampling=Sampling())
    assert seen == [TextDelta("half a ")]


async def test_an_unreadable_answer_is_unavailable(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.Response:
        return web.Response(text="<html>a captive portal</html>", content_type="text/html")

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        with pytest.raises(EngineUnavailable):
            await client.complete(SEA, tenant="1", sampling=Sampling())


# --- the generation limit (ENGINE_TIMEOUT) counts generation, not time in line -------------------------
LIMIT = 1.0  # seconds of generation allowed in these tests; the scripted waits are several times longer


def note(text: str) -> bytes:
    return f": {text}\n\n".encode()


async def test_time_in_line_does_not_count_against_the_limit(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Queue-Position": "3"})
        await response.prepare(request)
        for position in (3, 3, 2, 2, 1, 1, 1, 1):  # 3.2 s in line: over three times the limit
            await response.write(note(f"queued position={position} eta={position * 5}"))
            await asyncio.sleep(0.4)
        await response.write(note("running"))
        for part in (chunk("Once "), chunk("upon a time."), chunk(None, finish="stop"), b"data: [DONE]\n\n"):
            await response.write(part)
        return response

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, timeout=LIMIT) as client:
        events = await collect(client, Sampling())
    assert events[0] == Queued(3) and Queued(3, 15.0) in events and Queued(1, 5.0) in events
    assert texts_of(events) == "Once upon a time." and events[-1] == Finished("stop")


async def test_a_generation_past_the_limit_ends_as_timeout_and_keeps_its_text(scripted: StartServer) -> None:
    disconnected = asyncio.Event()

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(chunk("Once ") + chunk("upon "))
        try:
            for _ in range(300):  # a slow generation: nothing more within the limit
                await asyncio.sleep(0.1)
                await response.write(note("still here"))
        except (ConnectionError, asyncio.CancelledError):  # the client went away (aiohttp cancels the handler)
            disconnected.set()
            raise
        return response

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, timeout=LIMIT) as client:
        events = await collect(client, Sampling(n=2))
    assert events == [TextDelta("Once "), TextDelta("upon "), Finished("timeout", 0), Finished("timeout", 1)]
    await asyncio.wait_for(disconnected.wait(), 30)  # the stream was closed: the engine stops generating


async def test_the_servers_own_timeout_after_some_text_keeps_it_too(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        stop = {"error": {"message": "Generation took longer than 300 s and was stopped.", "code": "timeout"}}
        return await sse(request, [chunk("The sea"), f"data: {json.dumps(stop)}\n\n".encode(), b"data: [DONE]\n\n"])

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url) as client:
        assert await collect(client, Sampling()) == [TextDelta("The sea"), Finished("timeout")]


async def test_no_text_within_the_limit_is_a_timeout(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        return await sse(request, [note("running")] + [note("thinking")] * 5 + [b""] * 3000)

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, timeout=LIMIT) as client:
        with pytest.raises(EngineTimeout):
            await collect(client, Sampling())


async def test_a_server_that_stops_reporting_its_line_is_given_up(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(note("queued position=1 eta=2"))
        await asyncio.sleep(60)
        return response

    url = await scripted({("POST", CHAT): chat})
    async with EngineClient(url, timeout=300, queue_silence=LIMIT) as client:
        began = time.monotonic()
        with pytest.raises(EngineTimeout):
            await collect(client, Sampling())
    assert time.monotonic() - began < 30, "given up after the silence, not after the generation limit"


async def test_health_falls_back_to_models_for_other_servers(scripted: StartServer) -> None:
    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "llama-3"}, {"id": "qwen"}]})

    url = await scripted({("GET", "/v1/models"): models})  # no /health: aiohttp answers a text/plain 404
    async with EngineClient(url) as client:
        assert await client.health() == {"status": "ready", "model": "llama-3, qwen"}


async def test_health_reports_a_loading_engine(scripted: StartServer) -> None:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "loading", "progress": "converting weights"}, status=503)

    url = await scripted({("GET", "/health"): health})
    async with EngineClient(url) as client:
        assert (await client.health())["progress"] == "converting weights"


async def test_unopened_client_says_how_to_open_it() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await EngineClient("http://127.0.0.1:1").complete(SEA, tenant="1", sampling=Sampling())


async def test_unreachable_engine_is_unavailable_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with EngineClient(url, connect_retries=2) as client:
        started = time.monotonic()
        with pytest.raises(EngineUnavailable, match="not reachable"):
            await client.complete(SEA, tenant="1", sampling=Sampling())
        assert time.monotonic() - started >= 0.5 + 1.0  # waited between the three attempts
        with pytest.raises(EngineUnavailable):
            await client.health()


# --- the real engine ----------------------------------------------------------------------------------


@pytest.fixture
async def client(engine: EngineProcess) -> AsyncIterator[EngineClient]:
    async with EngineClient(engine.url) as c:
        yield c


async def test_health_of_the_real_engine(client: EngineClient) -> None:
    health = await client.health()
    assert health["status"] == "ready"
    assert health["model"]
    assert health["running"] == 0


async def test_complete(client: EngineClient) -> None:
    result = await client.complete(SEA, tenant="1", sampling=Sampling(max_tokens=8))
    assert len(result.texts) == 1 and result.text.strip()
    assert result.finish_reasons[0] in {"stop", "length"}
    usage = result.usage
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_stream_is_queued_then_text_then_finished_and_matches_complete(client: EngineClient) -> None:
    sampling = Sampling(max_tokens=12, seed=1234)
    events = await collect(client, sampling)
    assert isinstance(events[0], Queued) and events[0].position >= 1
    assert isinstance(events[-1], Finished)
    middle = events[1:-1]
    assert middle and all(isinstance(e, TextDelta) and e.text and e.index == 0 for e in middle)
    complete = await client.complete(SEA, tenant="1", sampling=sampling)
    assert texts_of(events) == complete.text  # the same seed gives the same text, streamed or not
    assert events[-1].reason == complete.finish_reasons[0]


async def test_two_choices(client: EngineClient) -> None:
    sampling = Sampling(max_tokens=8, seed=99, n=2)
    complete = await client.complete(SEA, tenant="1", sampling=sampling)
    assert len(complete.texts) == 2 and len(complete.finish_reasons) == 2
    assert complete.usage["completion_tokens"] <= 16
    events = await collect(client, sampling)
    assert sorted(e.index for e in events if isinstance(e, Finished)) == [0, 1]
    assert (texts_of(events, 0), texts_of(events, 1)) == complete.texts


async def test_stop_sequences_end_the_text_before_them(client: EngineClient) -> None:
    sampling = Sampling(max_tokens=16, seed=4321)
    free = (await client.complete(SEA, tenant="1", sampling=sampling)).text
    words = free.split(" ")
    assert len(words) >= 4, f"need a few words to pick a stop sequence from: {free!r}"
    stop = " " + words[2]
    expected = free[: free.index(stop)]
    stopped = await client.complete(SEA, tenant="1", sampling=Sampling(max_tokens=16, seed=4321, stop=(stop,)))
    assert stopped.text == expected
    assert stopped.finish_reasons == ("stop",)
    events = await collect(client, Sampling(max_tokens=16, seed=4321, stop=(stop,)))
    assert texts_of(events) == expected and events[-1] == Finished("stop")


async def test_the_tenant_reaches_the_engine_as_user(client: EngineClient) -> None:
    # The engine checks `user` (at most 256 characters): a tenant too long for it proves where it went.
    with pytest.raises(EngineRejected, match="`user`"):
        await client.complete(SEA, tenant="9" * 300, sampling=Sampling(max_tokens=2))


async def test_a_prompt_beyond_the_context_is_rejected_with_its_code(client: EngineClient) -> None:
    health = await client.health()
    too_long = [{"role": "user", "content": "wave " * (int(health["context_length"]) + 100)}]
    with pytest.raises(EngineRejected) as info:
        await client.complete(too_long, tenant="1", sampling=Sampling(max_tokens=8))
    assert info.value.code == "context_length_exceeded"


async def disconnected(client: EngineClient) -> float:
    async with client.session.get(f"{client.base_url}/metrics") as resp:
        text = await resp.text()
    match = re.search(r'^taleweaver_engine_requests_total\{outcome="disconnected"\} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def running(client: EngineClient) -> int:
    return int((await client.health())["running"])


# Freeing an abandoned slot takes about one decoding step; "promptly" is far sooner than the rest of a
# 2,000-token generation, measured in this machine's tokens (at least the 5 s an idle machine needs).
PROMPTLY = 100  # tokens' worth of time


async def test_breaking_out_of_a_stream_frees_the_engine_slot(client: EngineClient, pace: Pace) -> None:
    await wait_until(lambda: _idle(client), within=pace.allow(30, 1000), what="the shared engine to be idle")
    before = await disconnected(client)
    was_running = 0
    async for event in client.stream(SEA, tenant="1", sampling=Sampling(max_tokens=2000)):
        if isinstance(event, TextDelta):
            was_running = await running(client)
            break
    assert was_running == 1
    started, promptly = time.monotonic(), pace.allow(5, PROMPTLY)
    await wait_until(lambda: _idle(client), within=promptly, what="the engine to free the abandoned slot")
    assert time.monotonic() - started < promptly
    await wait_until(lambda: _disconnected_above(client, before), within=promptly, what="a disconnect counted")


async def test_cancelling_a_consumer_frees_the_engine_slot(client: EngineClient, pace: Pace) -> None:
    first_text = asyncio.Event()

    async def consume() -> None:
        async for event in client.stream(SEA, tenant="1", sampling=Sampling(max_tokens=2000)):
            if isinstance(event, TextDelta):
                first_text.set()

    await wait_until(lambda: _idle(client), within=pace.allow(30, 1000), what="the shared engine to be idle")
    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), pace.allow(30, 500))
    assert await running(client) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: _idle(client), within=pace.allow(5, PROMPTLY), what="the cancelled request's slot")


async def _idle(client: EngineClient) -> bool:
    return await running(client) == 0


async def _disconnected_above(client: EngineClient, before: float) -> bool:
    return await disconnected(client) > before


# --- the real engine, with one slot and a key ---------------------------------------------------------


async def test_full_queue_is_busy_with_retry_after(tight_engine: EngineProcess, pace: Pace) -> None:
    held = []
    busy: EngineBusy | None = None
    long = Sampling(max_tokens=2000)
    async with EngineClient(tight_engine.url, api_key=TIGHT_KEY, connect_retries=0) as client:
        try:
            for tenant in ("1", "2", "3"):  # one runs, one waits, the next finds the line full
                stream = client.stream(SEA, tenant=tenant, sampling=long)
                try:
                    assert isinstance(await anext(stream), Queued)
                except EngineBusy as exc:
                    busy = exc
                    break
                held.append(stream)
        finally:
            for stream in held:
                await stream.aclose()
        assert busy is not None, "the engine never refused a request"
        assert 1 <= busy.retry_after <= 120
        assert len(held) in (1, 2)
        await wait_until(lambda: _idle(client), within=pace.allow(10, 2 * PROMPTLY), what="the tight engine idle")
        # Once the line is free, requests are taken again.
        assert (await client.complete(SEA, tenant="1", sampling=Sampling(max_tokens=2))).text is not None


async def test_wrong_or_missing_key_is_unavailable(tight_engine: EngineProcess) -> None:
    for key in ("wrong", None):
        async with EngineClient(tight_engine.url, api_key=key, connect_retries=0) as client:
            with pytest.raises(EngineUnavailable, match="ENGINE_API_KEY"):
                await client.complete(SEA, tenant="1", sampling=Sampling(max_tokens=2))
            with pytest.raises(EngineUnavailable, match="ENGINE_API_KEY"):
                await collect(client, Sampling(max_tokens=2))
    async with EngineClient(tight_engine.url, api_key=TIGHT_KEY) as client:
        result = await client.complete(SEA, tenant="1", sampling=Sampling(max_tokens=2))
    assert result.usage["completion_tokens"] >= 1
