"""A pass-through proxy in front of the real engine that a test can make fail on demand.

`mode = "pass"` forwards everything; `"refuse"` answers chat completions with 503; `"cut"` forwards a streamed
completion but drops the connection after a few events (the engine dies mid-narration); `"hang"` forwards
`cut_after` events and then goes quiet, holding the stream open (a generation that is still running when the
bot is stopped); `hung` is set once a stream has gone quiet. `"stall"` reports the request as waiting in line
(the engine's `: queued` comments) until the engine has written `stall_after` pieces of text, hands those over
at once, then goes silent: a generation that runs out of time after a known amount of real text, however fast
the machine is.

`activity` counts what passed through and `in_flight` the requests under way, so a test can tell a
slow machine (things still move) from a hang (nothing moves).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
from aiohttp import web

from tests.support.engine_proc import free_port

QUEUED = b": queued position=1 eta=1\n\n"


class EngineProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.mode = "pass"
        self.cut_after = 3
        self.stall_after = 8
        self.hung = asyncio.Event()
        self.completions = 0
        self.bodies: list[dict] = []  # the chat requests' JSON, as the bot sent them (newest last)
        self.activity = 0
        self.in_flight = 0
        self.requests: list[bytes] = []  # every chat request body, as the bot sent it
        self.streamed = bytearray()  # every streamed chat response, as the engine sent it
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> EngineProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        is_chat = request.path == "/v1/chat/completions"
        if is_chat:
            self.completions += 1
            if self.mode == "refuse":
                return web.json_response(
                    {"error": {"message": "the proxy refuses", "type": "server_error", "param": None, "code": None}},
                    status=503,
                    headers={"Retry-After": "1"},
                )
        body = await request.read()
        if is_chat:
            self.bodies = [*self.bodies[-49:], json.loads(body or b"{}")]
            self.requests.append(body)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        self.in_flight += 1
        try:
            async with self._session.request(
                request.method, self.target + request.path_qs, data=body, headers=headers
            ) as up:
                if up.content_type != "text/event-stream":
                    data = await up.read()
                    self.activity += 1
                    return web.Response(body=data, status=up.status, headers={"Content-Type": up.content_type})
                response = web.StreamResponse(status=up.status, headers={"Content-Type": "text/event-stream"})
                await response.prepare(request)
                if is_chat and self.mode == "stall":
                    return await self._stall(up, response)
                events = 0
                async for chunk in up.content.iter_any():
                    await response.write(chunk)
                    self.activity += 1
                    if is_chat:
                        self.streamed += chunk
                    events += chunk.count(b"\n\n")
                    if is_chat and self.mode == "cut" and events >= self.cut_after:
                        request.transport.close()  # the engine "dies" mid-stream
                        return response
                    if is_chat and self.mode == "hang" and events >= self.cut_after:
                        self.hung.set()
                        await asyncio.Event().wait()  # until the client goes away (the handler is cancelled)
                return response
        finally:
            self.in_flight -= 1

    async def _stall(self, up: aiohttp.ClientResponse, response: web.StreamResponse) -> web.StreamResponse:
        held: list[bytes] = []
        pieces = 0

        async def report_waiting() -> None:
            while True:
                await response.write(QUEUED)
                await asyncio.sleep(0.5)

        reporter = asyncio.create_task(report_waiting())
        try:
            async for line in up.content:
                self.activity += 1
                if not line.startswith(b"data:"):
                    continue  # the engine's own queue reports and blank lines: this proxy reports instead
                held.append(line + b"\n")
                pieces += b'"content": "' in line and b'"content": ""' not in line
                if pieces >= self.stall_after:
                    break
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        await response.write(b": running\n\n" + b"".join(held))
        if pieces >= self.stall_after:
            await asyncio.sleep(3600)  # silence, until the client gives up and disconnects
        return response
