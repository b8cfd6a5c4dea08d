"""What went over the wire (request and dispatch logs) and the faults a test injects into it.

Route patterns are shared by ``fail_next``, ``delay_route`` and ``requests_matching``:
``{name}`` matches one path segment, a pattern ending in ``/`` matches any path starting with it,
anything else must match the whole path (without the ``/api/v10`` prefix and without the query).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .ids import utcnow


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    prefix = pattern.endswith("/")
    parts = re.split(r"(\{[^}/]+\})", pattern)
    body = "".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts)
    return re.compile(f"^{body}" + ("" if prefix else "$"))


def path_matches(pattern: str, path: str) -> bool:
    return bool(_compile(pattern).match(path))


def method_matches(wanted: str, method: str) -> bool:
    return wanted == "*" or wanted.upper() == method.upper()


@dataclass
class RecordedRequest:
    """One HTTP request the client made (REST, webhooks, interaction callbacks, attachments)."""

    method: str
    path: str  # without /api/v10 and without the query
    query: dict[str, str]
    json: Any  # the JSON body, or ``payload_json`` of a multipart body
    files: list[tuple[str, bytes]]  # (filename, content) of multipart file parts
    headers: dict[str, str]
    route: str | None = None  # the matched template, e.g. "/channels/{channel_id}/messages"
    status: int | None = None
    at: dt.datetime = field(default_factory=utcnow)
    monotonic: float = 0.0

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclass
class RecordedDispatch:
    """One gateway dispatch sent (or queued for resume) to a session."""

    event: str
    data: Any
    seq: int
    session_id: str
    at: dt.datetime = field(default_factory=utcnow)

    def __repr__(self) -> str:
        return f"<dispatch #{self.seq} {self.event}>"


@dataclass
class Fault:
    """An injected error response: the next ``times`` matching requests get ``status``."""

    method: str
    pattern: str
    status: int
    times: int = 1
    retry_after: float = 0.1
    is_global: bool = False
    code: int = 0
    message: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.hits < self.times and method_matches(self.method, method) and path_matches(self.pattern, path)

    def body(self) -> dict[str, Any]:
        if self.status == 429:
            return {
                "message": self.message or "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.is_global,
                "code": self.code,
            }
        return {"message": self.message or _default_message(self.status), "code": self.code}

    def headers(self) -> dict[str, str]:
        if self.status != 429:
            return {}
        headers = {
            "Retry-After": str(max(1, math.ceil(self.retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
            "X-RateLimit-Scope": "global" if self.is_global else "user",
            # discord.py treats a 429 without Via as a Cloudflare ban and does not retry it.
            "Via": "1.1 google",
        }
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
        return headers


@dataclass
class Delay:
    """Matching requests wait ``seconds`` before being handled (``times=None``: until removed)."""

    method: str
    pattern: str
    seconds: float
    times: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        within = self.times is None or self.hits < self.times
        return within and method_matches(self.method, method) and path_matches(self.pattern, path)


def _default_message(status: int) -> str:
    names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    names |= {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return f"{status}: {names.get(status, 'Error')}"
