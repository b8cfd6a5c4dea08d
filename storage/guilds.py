"""Per-server settings and the moderators' audit trail."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiosqlite


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
    async with conn.execute(
        "SELECT guild_id, moderator_role_id FROM guild_settings WHERE guild_id = ?", (guild_id,)
    ) as cur:
        row = await cur.fetchone()
    return GuildSettings(row["guild_id"], row["moderator_role_id"]) if row else GuildSettings(guild_id)


async def set_moderator_role(conn: aiosqlite.Connection, guild_id: int, role_id: int | None) -> None:
    await conn.execute(
        "INSERT INTO guild_settings (guild_id, moderator_role_id, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (guild_id) DO UPDATE SET moderator_role_id = excluded.moderator_role_id, "
        "updated_at = excluded.updated_at",
        (guild_id, role_id, time.time()),
    )


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
