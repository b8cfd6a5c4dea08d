"""Talking to the engine, or any OpenAI-compatible server (vLLM, TGI, llama.cpp server, Ollama).

One long-lived aiohttp session. `stream()` is an async iterator of events; a consumer that stops early
(or is cancelled) closes the response, which the engine sees as a disconnect and aborts the generation.
Only requests that produced nothing are retried (a refused connection, a 502/503/504 before any token),
so no text is ever generated twice for one call.

A stream's time limit (ENGINE_TIMEOUT) counts generation, not waiting in line: our engine reports a
waiting request's place in line as SSE comments (`: queued position=2 eta=30`, then `: running`), and
that time is not counted (a server that reports nothing has all its time counted). When the limit runs
out after some text, the stream ends with `Finished("timeout")` so the caller keeps what was written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.llm.types import ChatMessage, EngineHealth

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({502, 503, 504})
QUEUE_SILENCE_S = 60.0  # a server that said "queued" and then says nothing for this long is stuck
_QUEUE_NOTE = re.compile(rb"^:\s*queued\b(?:.*\bposition=(\d+))?(?:.*\beta=(\d+))?")
_RUNNING_NOTE = re.compile(rb"^:\s*running\b")


class EngineError(Exception):
    """Base class: the storyteller could not answer."""


class EngineBusy(EngineError):
    """The engine's queue is full (429)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EngineDown(EngineError):
    """The engine is unreachable, loading, or failing (the engine's own `EngineDown`, seen from the bot)."""


class EngineTimeout(EngineError):
    """The engine took longer than ENGINE_TIMEOUT (or went silent); the request was abandoned."""


class EngineRejected(EngineError):
    """The engine refused the request as invalid (400): a bug or a prompt that does not fit."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Sampling:
    max_tokens: int = 400
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    presence_penalty: float = 0.0  # OpenAI: -2..2, 0 = off
    frequency_penalty: float = 0.0  # OpenAI: -2..2, 0 = off
    repetition_penalty: float = 1.0  # an extension (our engine, vLLM, TGI): 1 = off

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "n": self.n,
        }
        if self.top_k:
            body["top_k"] = self.top_k
        if self.stop:
            body["stop"] = list(self.stop)
        if self.seed is not None:
            body["seed"] = self.seed
        # Sent only when set: a server that does not know an extension never sees it.
        if self.presence_penalty:
            body["presence_penalty"] = self.presence_penalty
        if self.frequency_penalty:
            body["frequency_penalty"] = self.frequency_penalty
        if self.repetition_penalty != 1.0:
            body["repetition_penalty"] = self.repetition_penalty
        return body


@dataclass(frozen=True)
class Queued:
    """The request is accepted; `position` requests are ahead of or with it in line (1 = next).

    `eta` (seconds until a slot frees, roughly) is set when the server reports a wait as it happens.
    """

    position: int
    eta: float | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str
    index: int = 0


@dataclass(frozen=True)
class Finished:
    reason: str  # "stop", "length", or "timeout" (ENGINE_TIMEOUT ran out after some text: keep it)
    index: int = 0


StreamEvent = Queued | TextDelta | Finished
ModelRoute = Callable[[str], Awaitable[str | None]]  # tenant -> model id (a server's adapter) or None


@dataclass(frozen=True)
class Completion:
    texts: tuple[str, ...]
    finish_reasons: tuple[str, ...]
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.texts[0]


class EngineClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 180.0,
        connect_retries: int = 3,
        queue_silence: float = QUEUE_SILENCE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`timeout`: seconds of generation a stream may take (the whole request for `complete`)."""
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model or "default"
        self._timeout = timeout
        self._retries = connect_retries
        self._queue_silence = queue_silence
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._route: ModelRoute | None = None

    def route_models(self, route: ModelRoute | None) -> None:
        """Pick each request's `model` by its tenant (a server's adapter); None, or a None answer, keeps
        the client's own model."""
        self._route = route

    async def __aenter__(self) -> EngineClient:
        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("EngineClient is not open; use `async with EngineClient(...)`.")
        return self._session

    # --- API ----------------------------------------------------------------------------------------
    async def health(self) -> EngineHealth:
        """The engine's /health; for other servers, what /v1/models tells. Raises EngineDown."""
        try:
            async with self.session.get(f"{self.base_url}/health", timeout=_timeout(10)) as resp:
                if resp.content_type == "application/json":
                    return EngineHealth.parse(await resp.json())
            async with self.session.get(f"{self.base_url}/v1/models", timeout=_timeout(10)) as resp:
                body = await resp.json(content_type=None)
                models = [str(m.get("id")) for m in body.get("data", [])] if isinstance(body, dict) else []
                return EngineHealth(status="ready" if resp.status == 200 else "unknown", model=", ".join(models))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise EngineDown(f"The storyteller's engine is not reachable ({exc}).") from exc

    async def models(self) -> list[str]:
        """The model (and adapter) names /v1/models lists. Raises EngineDown."""
        try:
            async with self.session.get(f"{self.base_url}/v1/models", timeout=_timeout(10)) as resp:
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise EngineDown(f"The storyteller's engine is not reachable ({exc}).") from exc
        data = body.get("data", []) if isinstance(body, dict) else []
        return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]

    async def complete(self, messages: list[ChatMessage], *, tenant: str, sampling: Sampling) -> Completion:
        body = await self._body(messages, tenant, sampling, stream=False)
        async with self._post(body) as resp:
            data = await resp.json(content_type=None)
        choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
        return Completion(
            texts=tuple((c.get("message") or {}).get("content") or "" for c in choices),
            finish_reasons=tuple(c.get("finish_reason") or "stop" for c in choices),
            usage=dict(data.get("usage") or {}),
        )

    async def stream(
        self, messages: list[ChatMessage], *, tenant: str, sampling: Sampling
    ) -> AsyncGenerator[StreamEvent, None]:
        body = await self._body(messages, tenant, sampling, stream=True)
        clock = _GenerationClock(self._timeout, self._queue_silence, self._clock)
        wrote: set[int] = set()
        done: set[int] = set()
        async with self._post(body, stream=True) as resp:
            position = resp.headers.get("X-Queue-Position", "")
            if position.isdigit():
                yield Queued(int(position))
            try:
                async for item in _sse_items(resp, clock):
                    if isinstance(item, Queued):
                        yield item
                        continue
                    if "error" in item:
                        error = item["error"] if isinstance(item["error"], dict) else {}
                        if error.get("code") == "timeout" and wrote:  # the server's own limit: keep the text
                            raise TimeoutError
                        raise EngineDown(f"The storyteller stumbled: {error.get('message', 'unknown error')}")
                    for event in _choice_events(item):
                        if isinstance(event, TextDelta):
                            wrote.add(event.index)
                        else:
                            done.add(event.index)
                        yield event
            except TimeoutError:
                if clock.in_line or not wrote:
                    raise
                log.info("generation ran past its %.0f s; keeping what was written", self._timeout)
                for index in range(sampling.n):
                    if index not in done:
                        yield Finished("timeout", index)

    # --- internals ----------------------------------------------------------------------------------
    async def _body(self, messages: list[ChatMessage], tenant: str, sampling: Sampling, stream: bool) -> dict[str, Any]:
        routed = await self._route(tenant) if self._route is not None else None
        return {
            "model": routed or self._model,
            "messages": messages,
            "user": tenant,
            "stream": stream,
            **sampling.as_json(),
        }

    def _post(self, body: dict[str, Any], *, stream: bool = False) -> _Post:
        return _Post(self, body, stream)

    async def _open(self, body: dict[str, Any], stream: bool) -> aiohttp.ClientResponse:
        url = f"{self.base_url}/v1/chat/completions"
        # A stream's generation limit is kept by _GenerationClock (waiting in line does not count).
        silent = max(self._timeout, self._queue_silence)  # only a server gone quiet: the clock keeps the rest
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=silent) if stream else _timeout(self._timeout)
        delay = 0.5
        for attempt in range(self._retries + 1):
            try:
                resp = await self.session.post(url, json=body, timeout=timeout)
            except TimeoutError as exc:
                raise EngineTimeout("The storyteller's engine did not answer in time.") from exc
            except aiohttp.ClientConnectionError as exc:
                if attempt == self._retries or not _safe_to_retry(exc):
                    raise EngineDown("The storyteller's engine is not reachable right now.") from exc
            else:
                if resp.status < 400:
                    return resp
                error = await _error_of(resp)
                if resp.status not in RETRYABLE_STATUS or attempt == self._retries:
                    raise error
                log.info("engine answered %s, retrying in %.1fs", resp.status, delay)
            await asyncio.sleep(delay)
            delay *= 2
        raise EngineDown("The storyteller's engine is not reachable right now.")  # pragma: no cover


class _Post:
    """`async with client._post(body) as resp`: opens with retries, always releases the response."""

    def __init__(self, client: EngineClient, body: dict[str, Any], stream: bool) -> None:
        self._client, self._body, self._stream = client, body, stream
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        self._resp = await self._client._open(self._body, self._stream)
        return self._resp

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._resp is not None:
            self._resp.close()  # closing mid-stream drops the connection: the engine aborts the request
        # The engine died or went silent mid-answer, or sent something unreadable: the engine failed,
        # not the bot, so callers see an EngineError rather than aiohttp's or json's exceptions.
        if isinstance(exc, TimeoutError):
            raise EngineTimeout("The storyteller's engine took too long and was stopped.") from exc
        if isinstance(exc, aiohttp.ClientError | ValueError):
            raise EngineDown("The storyteller's engine stopped answering mid-way.") from exc


def _timeout(total: float) -> aiohttp.ClientTimeout:
    # A non-streamed answer is silent until it is complete: a read timeout shorter than `total` (there
    # was one of 120 s) would cut it before ENGINE_TIMEOUT. Streams keep their own clock (_GenerationClock).
    return aiohttp.ClientTimeout(total=total, sock_connect=10)


def _safe_to_retry(exc: BaseException) -> bool:
    """Only failures where the request surely never reached the server are retried."""
    return isinstance(exc, aiohttp.ClientConnectorError)


async def _error_of(resp: aiohttp.ClientResponse) -> EngineError:
    try:
        body = await resp.json(content_type=None)
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = str(error.get("message") or body)
        code = error.get("code")
    except (ValueError, aiohttp.ClientError):
        message, code = f"HTTP {resp.status}", None
    finally:
        resp.release()
    if resp.status == 429:
        retry = resp.headers.get("Retry-After", "5")
        return EngineBusy(message, float(retry) if retry.replace(".", "", 1).isdigit() else 5.0)
    if resp.status in (400, 413, 422):
        return EngineRejected(message, code)
    if resp.status in (401, 403):
        return EngineDown("The engine refused the bot's API key; check ENGINE_API_KEY.")
    return EngineDown(f"The storyteller's engine answered {resp.status}: {message}")


class _GenerationClock:
    """Seconds of generation used, as opposed to seconds waiting in the server's line.

    Everything counts until the server says the request waits (`: queued`); from then on nothing
    counts until it says it runs (`: running`) or sends data. While waiting, the server must keep
    reporting (at least every `silence` seconds), or the request is given up as stuck.
    """

    def __init__(self, budget: float, silence: float, now: Callable[[], float]) -> None:
        self._budget, self._silence, self._now = budget, silence, now
        self._spent = 0.0
        self._since: float | None = now()  # when generating (re)started; None while in line
        self._heard = self._since

    @property
    def in_line(self) -> bool:
        return self._since is None

    def waiting(self) -> None:
        now = self._now()
        if self._since is not None:
            self._spent += now - self._since
            self._since = None
        self._heard = now

    def generating(self) -> None:
        if self._since is None:
            self._since = self._now()

    def remaining(self) -> float:
        if self._since is None:
            return self._heard + self._silence - self._now()
        return self._since + self._budget - self._spent - self._now()


async def _sse_items(resp: aiohttp.ClientResponse, clock: _GenerationClock) -> AsyncIterator[Queued | dict[str, Any]]:
    """The `data:` events of a server-sent event stream until `[DONE]`, and the server's queue reports.

    Raises TimeoutError when the clock runs out. Each read is timed on its own, never across a `yield`,
    so the limit cannot fire while the consumer is busy elsewhere.
    """
    buffer = b""
    while True:
        async with asyncio.timeout(max(0.0, clock.remaining())):
            chunk = await resp.content.readany()
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.strip()
            if line.startswith(b":"):
                note = _QUEUE_NOTE.match(line)
                if note:
                    clock.waiting()
                    if note[1] is not None:
                        yield Queued(int(note[1]), float(note[2]) if note[2] is not None else None)
                elif _RUNNING_NOTE.match(line):
                    clock.generating()
                continue
            if not line.startswith(b"data:"):
                continue
            clock.generating()
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                log.warning("skipping malformed event from the engine: %r", data[:200])
                continue
            if isinstance(event, dict):
                yield event


def _choice_events(event: dict[str, Any]) -> list[TextDelta | Finished]:
    found: list[TextDelta | Finished] = []
    for choice in event.get("choices") or []:
        index = int(choice.get("index", 0))
        text = (choice.get("delta") or {}).get("content")
        if text:
            found.append(TextDelta(text, index))
        if choice.get("finish_reason"):
            found.append(Finished(str(choice["finish_reason"]), index))
    return found
