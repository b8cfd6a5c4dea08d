"""The configuration registry's stored values (JSON text, typed by bot/config) and nothing else."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

SERVER = 0  # the scope id of a server-wide value


@dataclass(frozen=True)
class StoredValue:
    guild_id: int
    scope_id: int  # SERVER, or a channel/thread id
    key: str
    value: str  # JSON
    updated_by: int
    updated_at: float


async def values(conn: aiosqlite.Connection, guild_id: int) -> list[StoredValue]:
    """Every value set on a server, server-wide and per channel."""
    async with conn.execute(
        "SELECT guild_id, scope_id, key, value, updated_by, updated_at FROM config_values WHERE guild_id = ?",
        (guild_id,),
    ) as cur:
        rows = await cur.fetchall()
    return [StoredValue(*tuple(r)) for r in rows]


async def get(conn: aiosqlite.Connection, guild_id: int, scope_id: int, key: str) -> str | None:
    async with conn.execute(
        "SELECT value FROM config_values WHERE guild_id = ? AND scope_id = ? AND key = ?", (guild_id, scope_id, key)
    ) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def put(conn: aiosqlite.Connection, guild_id: int, scope_id: int, key: str, value: str, actor_id: int) -> None:
    await conn.execute(
        "INSERT INTO config_values (guild_id, scope_id, key, value, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (guild_id, scope_id, key) DO UPDATE SET value = excluded.value, "
        "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        (guild_id, scope_id, key, value, actor_id, time.time()),
    )


async def delete(conn: aiosqlite.Connection, guild_id: int, scope_id: int, key: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM config_values WHERE guild_id = ? AND scope_id = ? AND key = ?", (guild_id, scope_id, key)
    )
    return cur.rowcount > 0
