"""Per-server settings and the moderators' audit trail."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiosqlite

from storage import config

MODERATOR_ROLE = "moderator_role"  # its key in the registry


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    moderator_role_id: int | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: str
    detail: dict[str, Any]
    created_at: float


async def get_settings(conn: aiosqlite.Connection, guild_id: int) -> GuildSettings:
    """The moderator role, which lives in the configuration registry's table since it took over /settings."""
    stored = await config.get(conn, guild_id, config.SERVER, MODERATOR_ROLE)
    return GuildSettings(guild_id, json.loads(stored) if stored else None)


async def set_moderator_role(conn: aiosqlite.Connection, guild_id: int, role_id: int | None, actor_id: int = 0) -> None:
    if role_id is None:
        await config.delete(conn, guild_id, config.SERVER, MODERATOR_ROLE)
    else:
        await config.put(conn, guild_id, config.SERVER, MODERATOR_ROLE, json.dumps(role_id), actor_id)


async def audit(conn: aiosqlite.Connection, guild_id: int, actor_id: int, action: str, **detail: Any) -> None:
    await conn.execute(
        "INSERT INTO audit_log (guild_id, actor_id, action, detail, created_at) VALUES (?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, json.dumps(detail, ensure_ascii=False, default=str), time.time()),
    )


async def recent_audit(conn: aiosqlite.Connection, guild_id: int, limit: int = 20) -> list[AuditEntry]:
    async with conn.execute(
        "SELECT * FROM audit_log WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (guild_id, limit)
    ) as cur:
        rows = await cur.fetchall()
    return [
        AuditEntry(r["id"], r["guild_id"], r["actor_id"], r["action"], json.loads(r["detail"]), r["created_at"])
        for r in rows
    ]


async def audit_page(
    conn: aiosqlite.Connection, guild_id: int, prefixes: tuple[str, ...], *, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """A page of the entries whose action starts with one of `prefixes`, newest first, and how many there are."""
    where = " OR ".join("substr(action, 1, ?) = ?" for _ in prefixes) or "1"
    args: list[Any] = [guild_id]
    for prefix in prefixes:
        args += [len(prefix), prefix]
    async with conn.execute(f"SELECT COUNT(*) FROM audit_log WHERE guild_id = ? AND ({where})", args) as cur:
        row = await cur.fetchone()
    total = int(row[0]) if row else 0
    async with conn.execute(
        f"SELECT * FROM audit_log WHERE guild_id = ? AND ({where}) ORDER BY id DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ) as cur:
        rows = await cur.fetchall()
    return [
        AuditEntry(r["id"], r["guild_id"], r["actor_id"], r["action"], json.loads(r["detail"]), r["created_at"])
        for r in rows
    ], total
