"""NPCs, the channels' webhooks they speak through, and who is in which channel's scene.

NPC memory (what each NPC witnessed, its summaries and pins) is in storage/npc_memory.py.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.npcs.model import Npc, name_key
from storage.rows import changed_rows, returning_one

_JSON_LISTS = ("alternate_greetings", "tags")
_JSON_OBJECTS = ("extensions", "extra")
_COLUMNS = (
    "name", "description", "personality", "scenario", "first_mes", "mes_example", "system_prompt",
    "post_history_instructions", "alternate_greetings", "tags", "creator", "creator_notes", "character_version",
    "extensions", "extra", "creator_id", "avatar_url",
)  # fmt: skip


class DuplicateName(sqlite3.IntegrityError):
    """The server already has an NPC of that name (names are compared casefolded)."""


@dataclass(frozen=True)
class ChannelWebhook:
    channel_id: int
    guild_id: int
    webhook_id: int
    token: str


def _npc(row: sqlite3.Row) -> Npc:
    values: dict[str, Any] = {key: row[key] for key in _COLUMNS}
    for key in _JSON_LISTS:
        values[key] = tuple(json.loads(values[key]))
    for key in _JSON_OBJECTS:
        values[key] = json.loads(values[key])
    return Npc(
        **values, id=row["id"], guild_id=row["guild_id"], created_at=row["created_at"], updated_at=row["updated_at"]
    )


def _values(npc: Npc) -> tuple[Any, ...]:
    out: list[Any] = []
    for key in _COLUMNS:
        value = getattr(npc, key)
        if key in _JSON_LISTS:
            value = json.dumps(list(value), ensure_ascii=False)
        elif key in _JSON_OBJECTS:
            value = json.dumps(value, ensure_ascii=False)
        out.append(value)
    return tuple(out)


async def insert(conn: aiosqlite.Connection, npc: Npc, *, guild_id: int, now: float) -> Npc:
    """Store a new NPC on a server; `DuplicateName` if the server has one of that name already."""
    columns = ", ".join(_COLUMNS)
    marks = ", ".join("?" for _ in _COLUMNS)
    try:
        row = await returning_one(
            conn,
            f"INSERT INTO npcs (guild_id, name_key, {columns}, created_at, updated_at)"
            f" VALUES (?, ?, {marks}, ?, ?) RETURNING *",
            (guild_id, name_key(npc.name), *_values(npc), now, now),
        )
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise DuplicateName(npc.name) from exc
        raise
    return _npc(row)


async def update(conn: aiosqlite.Connection, npc: Npc, *, now: float) -> Npc:
    """Write every field of a stored NPC (found by id); `DuplicateName` if a rename clashes."""
    assignments = ", ".join(f"{c} = ?" for c in _COLUMNS)
    try:
        row = await returning_one(
            conn,
            f"UPDATE npcs SET name_key = ?, {assignments}, updated_at = ? WHERE id = ? RETURNING *",
            (name_key(npc.name), *_values(npc), now, npc.id),
        )
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise DuplicateName(npc.name) from exc
        raise
    return _npc(row)


async def get(conn: aiosqlite.Connection, npc_id: int) -> Npc | None:
    async with conn.execute("SELECT * FROM npcs WHERE id = ?", (npc_id,)) as cur:
        row = await cur.fetchone()
    return _npc(row) if row else None


async def by_name(conn: aiosqlite.Connection, guild_id: int, name: str) -> Npc | None:
    async with conn.execute(
        "SELECT * FROM npcs WHERE guild_id = ? AND name_key = ?", (guild_id, name_key(name))
    ) as cur:
        row = await cur.fetchone()
    return _npc(row) if row else None


async def for_guild(conn: aiosqlite.Connection, guild_id: int, *, limit: int = 500) -> list[Npc]:
    async with conn.execute(
        "SELECT * FROM npcs WHERE guild_id = ? ORDER BY name_key LIMIT ?", (guild_id, limit)
    ) as cur:
        return [_npc(r) for r in await cur.fetchall()]


async def names_matching(conn: aiosqlite.Connection, guild_id: int, typed: str, *, limit: int = 25) -> list[str]:
    """Names for autocomplete: those starting with what was typed first, then those containing it."""
    key = name_key(typed).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    async with conn.execute(
        "SELECT name FROM npcs WHERE guild_id = ? AND name_key LIKE ? ESCAPE '\\'"
        " ORDER BY name_key NOT LIKE ? ESCAPE '\\', name_key LIMIT ?",
        (guild_id, f"%{key}%", f"{key}%", limit),
    ) as cur:
        return [r["name"] for r in await cur.fetchall()]


async def count(conn: aiosqlite.Connection, guild_id: int) -> int:
    async with conn.execute("SELECT COUNT(*) FROM npcs WHERE guild_id = ?", (guild_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def delete(conn: aiosqlite.Connection, npc_id: int) -> bool:
    """Delete an NPC with its scenes, memory and lore (ON DELETE CASCADE)."""
    return await changed_rows(conn, "DELETE FROM npcs WHERE id = ?", (npc_id,)) > 0


# --- webhooks --------------------------------------------------------------------------------------
async def webhook(conn: aiosqlite.Connection, channel_id: int) -> ChannelWebhook | None:
    async with conn.execute("SELECT * FROM npc_webhooks WHERE channel_id = ?", (channel_id,)) as cur:
        row = await cur.fetchone()
    return ChannelWebhook(row["channel_id"], row["guild_id"], row["webhook_id"], row["token"]) if row else None


async def save_webhook(conn: aiosqlite.Connection, hook: ChannelWebhook, *, now: float) -> None:
    await conn.execute(
        "INSERT INTO npc_webhooks (channel_id, guild_id, webhook_id, token, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (channel_id) DO UPDATE SET webhook_id = excluded.webhook_id, token = excluded.token,"
        " created_at = excluded.created_at",
        (hook.channel_id, hook.guild_id, hook.webhook_id, hook.token, now),
    )


async def forget_webhook(conn: aiosqlite.Connection, channel_id: int, webhook_id: int) -> None:
    await conn.execute("DELETE FROM npc_webhooks WHERE channel_id = ? AND webhook_id = ?", (channel_id, webhook_id))


async def webhook_ids(conn: aiosqlite.Connection) -> set[int]:
    """Every webhook the NPCs speak through: messages from them are NPC lines, never answered."""
    async with conn.execute("SELECT webhook_id FROM npc_webhooks") as cur:
        return {r[0] for r in await cur.fetchall()}


# --- scenes ----------------------------------------------------------------------------------------
async def add_to_scene(conn: aiosqlite.Connection, channel_id: int, npc_id: int, *, added_by: int, now: float) -> bool:
    """False if the NPC was already there."""
    return (
        await changed_rows(
            conn,
            "INSERT INTO npc_scene (channel_id, npc_id, added_by, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (channel_id, npc_id, added_by, now),
        )
        > 0
    )


async def remove_from_scene(conn: aiosqlite.Connection, channel_id: int, npc_id: int) -> bool:
    return (
        await changed_rows(conn, "DELETE FROM npc_scene WHERE channel_id = ? AND npc_id = ?", (channel_id, npc_id)) > 0
    )


async def scene(conn: aiosqlite.Connection, channel_id: int) -> list[Npc]:
    """The NPCs present in a channel, in the order they joined."""
    async with conn.execute(
        "SELECT n.* FROM npc_scene s JOIN npcs n ON n.id = s.npc_id WHERE s.channel_id = ? ORDER BY s.added_at, n.id",
        (channel_id,),
    ) as cur:
        return [_npc(r) for r in await cur.fetchall()]


async def scene_size(conn: aiosqlite.Connection, channel_id: int) -> int:
    async with conn.execute("SELECT COUNT(*) FROM npc_scene WHERE channel_id = ?", (channel_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


# --- what NPCs posted, and the one-time fallback notice -------------------------------------------
async def record_messages(
    conn: aiosqlite.Connection, npc_id: int, channel_id: int, message_ids: list[int], *, now: float
) -> None:
    await conn.executemany(
        "INSERT OR IGNORE INTO npc_messages (message_id, npc_id, channel_id, created_at) VALUES (?, ?, ?, ?)",
        [(m, npc_id, channel_id, now) for m in message_ids],
    )


async def author_of(conn: aiosqlite.Connection, message_id: int) -> Npc | None:
    """The NPC that posted a message, if one did."""
    async with conn.execute(
        "SELECT n.* FROM npc_messages m JOIN npcs n ON n.id = m.npc_id WHERE m.message_id = ?", (message_id,)
    ) as cur:
        row = await cur.fetchone()
    return _npc(row) if row else None


async def note_fallback(conn: aiosqlite.Connection, guild_id: int, channel_id: int, *, now: float) -> bool:
    """Record that moderators were told NPCs speak as the bot here; False if they already were."""
    return (
        await changed_rows(
            conn,
            "INSERT INTO npc_fallback_notices (channel_id, guild_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (channel_id, guild_id, now),
        )
        > 0
    )


async def clear_fallback(conn: aiosqlite.Connection, channel_id: int) -> None:
    """Webhooks work here again: a later loss of the permission is worth telling again."""
    await conn.execute("DELETE FROM npc_fallback_notices WHERE channel_id = ?", (channel_id,))
