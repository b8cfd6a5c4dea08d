"""Messages the bot is still writing into (see migration 0004): recorded before posting, dropped when done."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import as_dict, returning_one


@dataclass(frozen=True)
class Unfinished:
    id: int
    kind: str
    ref_id: int
    channel_id: int
    message_id: int | None
    interaction_token: str | None
    started_at: float


async def add(
    conn: aiosqlite.Connection,
    *,
    kind: str,
    ref_id: int,
    channel_id: int,
    message_id: int | None,
    interaction_token: str | None,
    now: float,
) -> Unfinished:
    row = await returning_one(
        conn,
        "INSERT INTO unfinished_messages (kind, ref_id, channel_id, message_id, interaction_token, started_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        (kind, ref_id, channel_id, message_id, interaction_token, now),
    )
    return Unfinished(**as_dict(row))


async def set_message(conn: aiosqlite.Connection, record_id: int, message_id: int) -> None:
    await conn.execute("UPDATE unfinished_messages SET message_id = ? WHERE id = ?", (message_id, record_id))


async def remove(conn: aiosqlite.Connection, record_id: int) -> None:
    await conn.execute("DELETE FROM unfinished_messages WHERE id = ?", (record_id,))


async def of_kinds(conn: aiosqlite.Connection, kinds: tuple[str, ...]) -> list[Unfinished]:
    marks = ", ".join("?" * len(kinds))
    async with conn.execute(f"SELECT * FROM unfinished_messages WHERE kind IN ({marks}) ORDER BY id", kinds) as cur:
        return [Unfinished(**as_dict(r)) for r in await cur.fetchall()]
