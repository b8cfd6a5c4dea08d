"""A pass-through proxy in front of the real engine that a test can make fail on demand.

`mode = "pass"` forwards everything; `"refuse"` answers chat completions with 503; `"cut"` forwards a
streamed completion but drops the connection after a few events (the engine dies mid-narration);
`"stall"` forwards a few events and then goes quiet, holding the stream open (a generation that is
still running when the bot is stopped). `stalled` is set once a stream has gone quiet.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from tests.support.engine_proc import free_port


class EngineProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.mode = "pass"
        self.cut_after = 3
        self.stalled = asyncio.Event()
        self.completions = 0
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
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with self._session.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as up:
            if up.content_type != "text/event-stream":
                return web.Response(body=await up.read(), status=up.status, headers={"Content-Type": up.content_type})
            response = web.StreamResponse(status=up.status, headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            events = 0
            async for chunk in up.content.iter_any():
                await response.write(chunk)
                events += chunk.count(b"\n\n")
                if is_chat and self.mode == "cut" and events >= self.cut_after:
                    request.transport.close()  # the engine "dies" mid-stream
                    return response
                if is_chat and self.mode == "stall" and events >= self.cut_after:
                    self.stalled.set()
                    await asyncio.Event().wait()  # until the client goes away (the handler is cancelled)
            return response
