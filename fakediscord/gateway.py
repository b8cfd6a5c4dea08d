"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME with replay.

Sessions outlive connections, as on Discord: every dispatch gets the session's next sequence number
and is kept, so when a connection drops the events sent meanwhile are replayed on RESUME (those with
a sequence number above the one the client reports), followed by RESUMED. Dispatching is synchronous
(a per-connection queue feeds a writer task) so the store can dispatch from plain methods, in order.

Sharding: an IDENTIFY may carry ``shard: [id, count]``. That session is sent READY and GUILD_CREATE
for its guilds only (``(guild_id >> 22) % count == id``), and each event goes only to the session
serving its guild; events outside any guild (DMs) go to shard 0, as on Discord. A shard id outside
``0..count-1`` is closed with 4010 (Invalid shard).

Compression: discord.py asks for ``compress=zlib-stream`` (transport compression, not
permessage-deflate); the fake honours it with one zlib stream per connection, Z_SYNC_FLUSH per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import payloads
from .errors import FakeUsageError
from .ids import shard_of
from .models import JSON
from .traffic import RecordedDispatch

if TYPE_CHECKING:
    from .store import Store

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 8, 9, 10, 11
# GATEWAY_PRESENCE_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED
APPLICATION_FLAGS = (1 << 13) | (1 << 15) | (1 << 19)


@dataclass(eq=False)
class _Close:
    code: int


@dataclass(eq=False)
class Connection:
    """One websocket; outgoing frames go through ``queue`` so senders never await."""

    ws: web.WebSocketResponse
    compress: bool
    path: str
    queue: asyncio.Queue[JSON | _Close] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None
    heartbeats: int = 0

    def send(self, payload: JSON) -> None:
        self.queue.put_nowait(payload)

    def close(self, code: int) -> None:
        self.queue.put_nowait(_Close(code))

    async def write_loop(self) -> None:
        zctx = zlib.compressobj()
        while True:
            item = await self.queue.get()
            if isinstance(item, _Close):
                await self.ws.close(code=item.code)
                return
            text = json.dumps(item)
            try:
                if self.compress:
                    await self.ws.send_bytes(zctx.compress(text.encode()) + zctx.flush(zlib.Z_SYNC_FLUSH))
                else:
                    await self.ws.send_str(text)
            except (ConnectionResetError, RuntimeError):
                return  # the client went away; the session keeps the history for RESUME


@dataclass(eq=False)
class GatewaySession:
    id: str
    identify: JSON
    seq: int = 0
    history: list[JSON] = field(default_factory=list)
    conn: Connection | None = None
    ready: bool = False
    resumes: int = 0

    @property
    def shard(self) -> tuple[int, int]:
        """(shard id, shard count) from IDENTIFY; (0, 1) for an unsharded client."""
        shard_id, count = self.identify.get("shard") or (0, 1)
        return int(shard_id), int(count)

    def serves(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        return shard_id == 0 if guild_id is None else shard_of(guild_id, count) == shard_id


def _guild_of(event: str, data: Any) -> int | None:
    """The guild an event belongs to (which shard receives it), or None (a DM: shard 0)."""
    if not isinstance(data, dict):
        return None
    if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        return int(data["id"])
    guild_id = data.get("guild_id")
    return int(guild_id) if guild_id else None


class Gateway:
    """All sessions and connections; installed as the store's dispatcher."""

    heartbeat_interval_ms = 41250

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[Connection] = []
        self._writers: set[asyncio.Task[None]] = set()
        store._dispatch = self.dispatch

    @property
    def connected(self) -> bool:
        return any(s.ready and s.conn is not None for s in self.sessions.values())

    def ready_shards(self) -> set[tuple[int, int]]:
        """(shard id, count) of every identified, connected session."""
        return {s.shard for s in self.sessions.values() if s.ready and s.conn is not None}

    def dispatch(self, event: str, data: JSON) -> None:
        """Send an event to every identified session serving its guild (queued for replay if disconnected)."""
        guild_id = _guild_of(event, data)
        for session in list(self.sessions.values()):
            if session.ready and session.serves(guild_id):
                self._send(session, event, data)

    def _send(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.history.append(payload)
        self.store.dispatches.append(RecordedDispatch(event, data, session.seq, session.id))
        if session.conn is not None:
            session.conn.send(payload)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, request.query.get("compress") == "zlib-stream", request.path)
        self.connections.append(conn)
        writer = asyncio.create_task(conn.write_loop())
        self._writers.add(writer)
        conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_frame(conn, json.loads(msg.data))
        finally:
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if ws.close_code in (1000, 1001):  # a clean close ends the session, as on Discord
                    self.sessions.pop(session.id, None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._writers.discard(writer)
            self.connections.remove(conn)
            self.store.changed()
        return ws

    def _on_frame(self, conn: Connection, frame: JSON) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            conn.heartbeats += 1
            conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            self._identify(conn, data or {})
        elif op == RESUME:
            self._resume(conn, data or {})
        elif op == REQUEST_MEMBERS and conn.session is not None:
            self._members_chunk(conn.session, data or {})

    def _identify(self, conn: Connection, data: JSON) -> None:
        if data.get("token") != self.store.token:
            conn.close(4004)  # Authentication failed
            return
        if conn.session is not None:
            conn.close(4005)  # Already authenticated
            return
        shard = data.get("shard") or [0, 1]
        if not (len(shard) == 2 and 0 <= int(shard[0]) < int(shard[1])):
            conn.close(4010)  # Invalid shard
            return
        session = GatewaySession(uuid.uuid4().hex, data, conn=conn)
        conn.session = session
        self.sessions[session.id] = session
        store = self.store
        guilds = [g for g in store.guilds.values() if store.bot.id in g.members and session.serves(g.id)]
        ready = {
            "v": 10,
            "user": {**payloads.user(store.bot), "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url("/resume/"),
            "application": {"id": str(store.application_id), "flags": APPLICATION_FLAGS},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "shard": list(session.shard),
            "_trace": ["fakediscord"],
        }
        self._send(session, "READY", ready)
        for g in guilds:
            self._send(session, "GUILD_CREATE", payloads.guild(store, g, full=True))
        session.ready = True
        store.changed()

    def _resume(self, conn: Connection, data: JSON) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.store.token:
            conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if session.conn is not None and session.conn is not conn:
            session.conn.close(4000)
        session.conn, conn.session = conn, session
        last = int(data.get("seq") or 0)
        for payload in session.history:
            if payload["s"] > last:
                conn.send(payload)
        self._send(session, "RESUMED", {"_trace": ["fakediscord"]})
        session.resumes += 1
        self.store.changed()

    def _members_chunk(self, session: GatewaySession, data: JSON) -> None:
        guild = self.store.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user.name.lower().startswith(str(data["query"]).lower())]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk = {
            "guild_id": str(guild.id),
            "members": [payloads.member(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._send(session, "GUILD_MEMBERS_CHUNK", chunk)

    def url(self, path: str = "/") -> str:
        return self.store.base_url.replace("http://", "ws://", 1) + path

    async def drop(self, *, resume: bool = True, timeout: float = 10.0) -> None:  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        """Cut every live connection; wait until the client RESUMEd (or re-IDENTIFYed)."""
        targets = [s for s in self.sessions.values() if s.conn is not None]
        if not targets:
            raise FakeUsageError("no connected gateway session to drop")
        if resume:
            before = {s.id: s.resumes for s in targets}
            for s in targets:
                conn, s.conn = s.conn, None  # from now on dispatches wait in history for RESUME
                assert conn is not None
                conn.close(4000)  # "unknown error": resumable, discord.py reconnects and resumes
            await self.store.wait_for(
                lambda: all(s.resumes > before[s.id] for s in targets), timeout, what="the client to RESUME"
            )
            return
        old = set(self.sessions)
        for s in targets:
            conn, s.conn = s.conn, None
            del self.sessions[s.id]
            assert conn is not None
            conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
        await self.store.wait_for(
            lambda: any(s.ready and s.id not in old for s in self.sessions.values()),
            timeout,
            what="the client to IDENTIFY again",
        )

    async def close(self) -> None:
        for conn in list(self.connections):
            conn.close(1001)
        for writer in list(self._writers):
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
