"""The engine's HTTP API (aiohttp), OpenAI-compatible.

POST /v1/chat/completions (JSON or server-sent events), GET /v1/models, GET /health, GET /metrics.
Every error is OpenAI's JSON error shape; no traceback ever leaves the process.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from engine.config import EngineConfig
from engine.core import Engine, EngineState, EngineUnavailable
from engine.generation import Delta, Generation
from engine.protocol import (
    ChatRequest,
    RequestError,
    chunk_body,
    completion_body,
    completion_id,
    error_body,
    parse_chat_request,
    usage,
)
from engine.scheduler import QueueFull

log = logging.getLogger(__name__)

ENGINE_KEY = web.AppKey("engine", Engine)
CONFIG_KEY = web.AppKey("config", EngineConfig)
OPEN_PATHS = frozenset({"/health"})
MAX_BODY = 4 * 1024 * 1024
# A streamed request that waits in line hears how it stands every few seconds (SSE comments), and its
# ENGINE_REQUEST_TIMEOUT starts only when it leaves the line: waiting is not generating.
QUEUE_TICK_S = 0.5
QUEUE_REPORT_S = 3.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(exc: RequestError) -> web.Response:
    return json_response(exc.body(), exc.status, exc.headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = "not_found_error" if exc.status == 404 else "invalid_request_error"
        message = f"{request.method} {request.path}: {exc.reason}"
        return json_response(error_body(message, kind), exc.status)
    except asyncio.CancelledError:
        raise
    except Exception:
        incident = uuid.uuid4().hex[:8]
        log.exception("unhandled error in %s %s (incident %s)", request.method, request.path, incident)
        body = error_body(f"Internal error (incident {incident}); it has been logged.", "server_error")
        return json_response(body, 500)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.app[CONFIG_KEY].api_key
    if key and request.path not in OPEN_PATHS:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else ""  # the scheme is case-insensitive (RFC 9110)
        if not hmac.compare_digest(given.encode(), key.encode()):
            raise RequestError(
                "Missing or wrong API key: send `Authorization: Bearer <ENGINE_API_KEY>`.",
                status=401,
                code="invalid_api_key",
            )
    return await handler(request)


def create_app(engine: Engine, config: EngineConfig) -> web.Application:
    app = web.Application(middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_BODY)
    app[ENGINE_KEY] = engine
    app[CONFIG_KEY] = config
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


async def health(request: web.Request) -> web.Response:
    info = request.app[ENGINE_KEY].health()
    return json_response(info, 200 if info["status"] == "ready" else 503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[ENGINE_KEY].metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def models(request: web.Request) -> web.Response:
    """The base model, then each LoRA adapter (ENGINE_ADAPTERS); a request picks one by its `model`."""
    engine = request.app[ENGINE_KEY]
    base, *adapters = engine.models()
    created = int(engine.started_at)
    data = [{"id": base, "object": "model", "created": created, "owned_by": "taleweaver"}]
    data += [
        {"id": a, "object": "model", "created": created, "owned_by": "taleweaver", "parent": base} for a in adapters
    ]
    return json_response({"object": "list", "data": data})


async def chat_completions(request: web.Request) -> web.StreamResponse:
    engine, config = request.app[ENGINE_KEY], request.app[CONFIG_KEY]
    try:
        # JSON is UTF-8 (RFC 8259): decode the bytes ourselves rather than trust a charset the client names.
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        engine.metrics.rejections.labels("bad_request").inc()
        raise RequestError("The request body is not valid JSON.") from None
    try:
        chat = parse_chat_request(body, config.max_tokens_limit)
        prepared = engine.prepare(chat)
        generation = engine.submit(prepared, chat.n, chat.user)
    except RequestError:
        engine.metrics.rejections.labels("bad_request").inc()
        raise
    except QueueFull as exc:
        raise RequestError(
            str(exc),
            status=429,
            code="queue_full",
            type="rate_limit_error",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except EngineUnavailable as exc:
        engine.metrics.rejections.labels("unavailable").inc()
        raise RequestError(
            str(exc),
            status=503,
            code="engine_unavailable",
            type="server_error",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    model = prepared.params.adapter or engine.health()["model"]
    if chat.stream:
        return await _stream(request, engine, chat, generation, model, config.request_timeout)
    return await _complete(engine, chat, generation, model, config.request_timeout)


def _start_clock(limit: asyncio.Timeout, generation: Generation, limit_s: float) -> bool:
    """A request's time limit counts from when it leaves the waiting line. True when it starts now."""
    admitted = generation.admitted_at
    if admitted is None or limit.when() is not None:
        return False
    limit.reschedule(admitted + limit_s)  # the loop's clock is time.monotonic, like `admitted`
    return True


async def _complete(
    engine: Engine, chat: ChatRequest, generation: Generation, model: str, limit_s: float
) -> web.Response:
    texts, finishes = [""] * chat.n, ["stop"] * chat.n
    try:
        async with asyncio.timeout(None) as limit:
            async for delta in generation.deltas_or_ticks(QUEUE_TICK_S):
                _start_clock(limit, generation, limit_s)
                if delta is None:
                    continue
                texts[delta.index] += delta.text
                if delta.finish == "error":
                    engine.metrics.requests.labels("error").inc()
                    raise _generation_error(engine, delta)
                if delta.finish:
                    finishes[delta.index] = delta.finish
    except TimeoutError:
        engine.metrics.requests.labels("timeout").inc()
        raise RequestError(
            f"Generation took longer than {limit_s:g} s and was stopped.",
            status=504,
            type="server_error",
            code="timeout",
        ) from None
    finally:
        generation.close()
    engine.metrics.requests.labels("ok").inc()
    body = completion_body(
        completion_id(), model, texts, finishes, generation.prompt_tokens, generation.completion_tokens
    )
    return json_response(body, headers={"X-Queue-Position": str(generation.position)})


async def _stream(
    request: web.Request,
    engine: Engine,
    chat: ChatRequest,
    generation: Generation,
    model: str,
    limit_s: float,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Queue-Position": str(generation.position),
        }
    )
    cid = completion_id()
    outcome = "disconnected"
    try:
        await response.prepare(request)
        for index in range(chat.n):
            await _send(response, chunk_body(cid, model, index, {"role": "assistant", "content": ""}))
        started = time.monotonic()
        async with asyncio.timeout(None) as limit:
            reported = 0.0
            async for delta in generation.deltas_or_ticks(QUEUE_TICK_S):
                if _start_clock(limit, generation, limit_s):
                    await _send_comment(response, "running")
                if delta is not None:
                    await _send_delta(response, engine, cid, model, delta)
                    if delta.finish == "error":
                        outcome = "error"
                elif generation.admitted_at is None and time.monotonic() - reported >= QUEUE_REPORT_S:
                    position, eta = generation.in_line()  # an SSE comment: clients that do not know it skip it
                    await _send_comment(response, f"queued position={position} eta={eta}")
                    reported = time.monotonic()
        if chat.include_usage:
            block = usage(generation.prompt_tokens, generation.completion_tokens)
            await _send(response, chunk_body(cid, model, 0, {}, usage_block=block))
        await response.write(b"data: [DONE]\n\n")
        outcome = "ok" if outcome != "error" else outcome
        log.debug("streamed %s in %.2fs", cid, time.monotonic() - started)
    except TimeoutError:
        outcome = "timeout"
        message = f"Generation took longer than {limit_s:g} s and was stopped."
        await _send_quietly(response, error_body(message, "server_error", code="timeout"))
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; closing the generation (below) frees its slots
    finally:
        generation.close()
        engine.metrics.requests.labels(outcome).inc()
    return response


async def _send_comment(response: web.StreamResponse, text: str) -> None:
    await response.write(f": {text}\n\n".encode())


def _generation_error(engine: Engine, delta: Delta) -> RequestError:
    """A choice ended in an error: 503 if the engine is shutting down (try again later), else 500."""
    if engine.state == EngineState.STOPPING:
        return RequestError(
            f"The engine is shutting down and stopped this generation: {delta.error}",
            status=503,
            type="server_error",
            code="engine_unavailable",
            headers={"Retry-After": "10"},
        )
    return RequestError(f"Generation failed: {delta.error}", status=500, type="server_error", code="generation_failed")


async def _send_delta(response: web.StreamResponse, engine: Engine, cid: str, model: str, delta: Delta) -> None:
    if delta.finish == "error":
        error = _generation_error(engine, delta)
        await _send(response, error_body(error.message, error.type, code=error.code))
        return
    if delta.text:
        await _send(response, chunk_body(cid, model, delta.index, {"content": delta.text}))
    if delta.finish:
        await _send(response, chunk_body(cid, model, delta.index, {}, finish=delta.finish))


async def _send(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode())


async def _send_quietly(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    try:
        await _send(response, payload)
        await response.write(b"data: [DONE]\n\n")
    except (ConnectionResetError, ConnectionError):
        pass
