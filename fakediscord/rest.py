"""The HTTP side: route table, request parsing and logging, fault injection, auth, JSON responses.

Every request is recorded before it is handled (so a test sees even the ones that failed), then
delays and injected faults apply, then auth, then the handler. Handlers are plain async functions
``(store, request) -> JSON | None | Reply`` that raise ``APIError``; this module turns that into
HTTP. Responses carry ``Content-Type: application/json`` exactly: discord.py compares the header
for equality and treats anything else (``; charset=utf-8``) as text, breaking every parse.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from .errors import APIError
from .messaging import Upload
from .store import Store
from .traffic import RecordedRequest

API_PREFIX = "/api/v10"
Handler = Callable[[Store, "ApiRequest"], Awaitable[Any]]


@dataclass
class Reply:
    """A non-200 success (or a body with extra headers) from a handler."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    uploads: list[Upload]
    headers: dict[str, str]

    def id(self, name: str) -> int:
        """A snowflake path parameter; anything else is a 404 like Discord's."""
        try:
            return int(self.params[name])
        except (KeyError, ValueError):
            raise APIError(404, 0, "404: Not Found") from None

    @property
    def body(self) -> dict[str, Any]:
        return self.json if isinstance(self.json, dict) else {}

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


@dataclass(frozen=True)
class RouteSpec:
    method: str
    template: str
    handler: Handler
    auth: bool


class RouteTable:
    """Collects routes from the ``routes_*`` modules via a decorator."""

    def __init__(self) -> None:
        self.specs: list[RouteSpec] = []

    def __call__(self, method: str, template: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.specs.append(RouteSpec(method, template, handler, auth))
            return handler

        return register


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def _ratelimit_headers(template: str) -> dict[str, str]:
    bucket = hashlib.md5(template.encode()).hexdigest()[:16]
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": bucket,
    }


async def _parse_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        payload: Any = None
        uploads: list[Upload] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(await part.text())
            elif name.startswith("file"):
                index = int(name[6:-1]) if name.startswith("files[") else len(uploads)
                data = bytes(await part.read())
                ctype = part.headers.get("Content-Type")
                ctype = None if ctype in (None, "application/octet-stream") else ctype
                uploads.append(Upload(index, part.filename or f"file{index}", data, ctype))
        return payload, uploads
    text = await request.text()
    return (json.loads(text) if text else None), []


async def record(store: Store, request: web.Request, template: str | None) -> tuple[RecordedRequest, Any, list[Upload]]:
    body, uploads = await _parse_body(request)
    path = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX) else request.path
    rec = RecordedRequest(
        method=request.method,
        path=path,
        query=dict(request.query),
        json=body,
        files=[(u.filename, u.data) for u in uploads],
        headers=dict(request.headers),
        route=template,
        monotonic=time.monotonic(),
    )
    store.requests.append(rec)
    store.changed()
    return rec, body, uploads


def endpoint(store: Store, spec: RouteSpec) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rec, body, uploads = await record(store, request, spec.template)
        response = await _respond(store, spec, request, rec, body, uploads)
        rec.status = response.status
        store.changed()
        return response

    return handle


async def _respond(
    store: Store, spec: RouteSpec, request: web.Request, rec: RecordedRequest, body: Any, uploads: list[Upload]
) -> web.Response:
    for delay in store.delays:
        if delay.matches(rec.method, rec.path):
            delay.hits += 1
            await asyncio.sleep(delay.seconds)
    fault = next((f for f in store.faults if f.matches(rec.method, rec.path)), None)
    if fault is not None:
        fault.hits += 1
        store.changed()
        return json_response(fault.status, fault.body(), fault.headers())
    if spec.auth and request.headers.get("Authorization") != f"Bot {store.token}":
        return json_response(401, {"message": "401: Unauthorized", "code": 0})
    req = ApiRequest(rec.method, rec.path, dict(request.match_info), rec.query, body, uploads, rec.headers)
    try:
        result = await spec.handler(store, req)
    except APIError as exc:
        return json_response(exc.status, exc.body())
    headers = _ratelimit_headers(spec.template)
    if isinstance(result, Reply):
        if result.status == 204:
            return web.Response(status=204, headers={**headers, **result.headers})
        return json_response(result.status, result.body, {**headers, **result.headers})
    if result is None:
        return web.Response(status=204, headers=headers)
    return json_response(200, result, headers)


def build_app(store: Store, gateway_handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    from . import automod, routes_core, routes_messages, routes_webhooks

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/", gateway_handler)
    app.router.add_get("/resume/", gateway_handler)
    app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", _attachment_handler(store))
    for table in (routes_core.routes, routes_messages.routes, routes_webhooks.routes, automod.routes):
        for spec in table.specs:
            app.router.add_route(spec.method, API_PREFIX + spec.template, endpoint(store, spec))
    app.router.add_route("*", "/{tail:.*}", _not_found(store))
    return app


def _attachment_handler(store: Store) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rec, _, _ = await record(store, request, "/attachments/{channel_id}/{attachment_id}/{filename}")
        att = store.attachments.get(int(request.match_info["attachment_id"]))
        response = (
            web.Response(body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"})
            if att is not None
            else json_response(404, {"message": "404: Not Found", "code": 0})
        )
        rec.status = response.status
        return response

    return handle


def _not_found(store: Store) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rec, _, _ = await record(store, request, None)
        rec.status = 404
        store.unknown_routes.append(rec)
        return json_response(404, {"message": "404: Not Found", "code": 0})

    return handle
