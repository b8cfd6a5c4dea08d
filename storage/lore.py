"""Lore entries: world facts per channel, triggered into the narrator's prompt by keywords."""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiosqlite

from storage.rows import returning_one


@dataclass(frozen=True)
class LoreEntry:
    id: int
    guild_id: int
    channel_id: int
    keys: tuple[str, ...]
    content: str
    priority: int
    author_id: int
    created_at: float
    # An NPC's own lore (a card's character_book) has npc_id set and channel_id 0; channel lore has no npc.
    npc_id: int | None = None
    secondary_keys: tuple[str, ...] = ()  # a card's "selective" keys: one must also appear
    constant: bool = False  # a card's constant entry: always included


def _entry(row: aiosqlite.Row) -> LoreEntry:
    return LoreEntry(
        row["id"], row["guild_id"], row["channel_id"], tuple(json.loads(row["keys"])), row["content"],
        row["priority"], row["author_id"], row["created_at"], row["npc_id"],
        tuple(json.loads(row["secondary_keys"])), bool(row["constant"]),
    )  # fmt: skip


async def add(
    conn: aiosqlite.Connection,
    *,
    guild_id: int,
    channel_id: int,
    keys: list[str],
    content: str,
    priority: int,
    author_id: int,
    now: float,
) -> LoreEntry:
    row = await returning_one(
        conn,
        "INSERT INTO lore_entries (guild_id, channel_id, keys, content, priority, author_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (guild_id, channel_id, json.dumps(keys, ensure_ascii=False), content, priority, author_id, now),
    )
    return _entry(row)


async def for_channel(conn: aiosqlite.Connection, channel_id: int) -> list[LoreEntry]:
    """In insertion order: lower priority first, so higher-priority entries land nearer the prompt's end."""
    async with conn.execute(
        "SELECT * FROM lore_entries WHERE channel_id = ? ORDER BY priority, id", (channel_id,)
    ) as cur:
        return [_entry(r) for r in await cur.fetchall()]


async def add_for_npc(
    conn: aiosqlite.Connection,
    *,
    guild_id: int,
    npc_id: int,
    keys: list[str],
    content: str,
    priority: int,
    author_id: int,
    now: float,
    secondary_keys: list[str] | None = None,
    constant: bool = False,
) -> LoreEntry:
    """An entry of an NPC's own lore: it follows the NPC into every channel it speaks in."""
    row = await returning_one(
        conn,
        "INSERT INTO lore_entries (guild_id, channel_id, npc_id, keys, secondary_keys, constant, content, priority,"
        " author_id, created_at) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (
            guild_id, npc_id, json.dumps(keys, ensure_ascii=False),
            json.dumps(secondary_keys or [], ensure_ascii=False), int(constant), content, priority, author_id, now,
        ),
    )  # fmt: skip
    return _entry(row)


async def for_npc(conn: aiosqlite.Connection, npc_id: int) -> list[LoreEntry]:
    """An NPC's own lore, in insertion order like `for_channel`."""
    async with conn.execute("SELECT * FROM lore_entries WHERE npc_id = ? ORDER BY priority, id", (npc_id,)) as cur:
        return [_entry(r) for r in await cur.fetchall()]


async def count(conn: aiosqlite.Connection, channel_id: int) -> int:
    async with conn.execute("SELECT COUNT(*) FROM lore_entries WHERE channel_id = ?", (channel_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def remove(conn: aiosqlite.Connection, channel_id: int, entry_id: int) -> LoreEntry | None:
    async with conn.execute(
        "DELETE FROM lore_entries WHERE channel_id = ? AND id = ? RETURNING *", (channel_id, entry_id)
    ) as cur:
        row = await cur.fetchone()
    return _entry(row) if row else None
