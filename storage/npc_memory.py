"""What each NPC witnessed, per channel: its lines, the rolling summary of older ones, pinned facts.

A line said in a channel is written once for every NPC present (`witnesses`), so reading an NPC's memory
is one indexed range scan, and an NPC never learns what was said where it was not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True)
class Line:
    id: int
    npc_id: int
    channel_id: int
    speaker_kind: str  # 'player' or 'npc'
    speaker_id: int
    speaker_name: str
    text: str
    tokens: int
    created_at: float


@dataclass(frozen=True)
class ChannelState:
    npc_id: int
    channel_id: int
    summary: str = ""
    summary_upto: int = 0


def _line(row: sqlite3.Row) -> Line:
    return Line(
        row["id"], row["npc_id"], row["channel_id"], row["speaker_kind"], row["speaker_id"], row["speaker_name"],
        row["text"], row["tokens"], row["created_at"],
    )  # fmt: skip


async def remember(
    conn: aiosqlite.Connection,
    witnesses: Iterable[int],
    *,
    channel_id: int,
    speaker_kind: str,
    speaker_id: int,
    speaker_name: str,
    text: str,
    tokens: int,
    now: float,
) -> int:
    """Write one line into the memory of every witness; returns how many remember it."""
    rows = [
        (npc_id, channel_id, speaker_kind, speaker_id, speaker_name, text, tokens, now) for npc_id in set(witnesses)
    ]
    await conn.executemany(
        "INSERT INTO npc_memory (npc_id, channel_id, speaker_kind, speaker_id, speaker_name, text, tokens, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


async def recent(
    conn: aiosqlite.Connection, npc_id: int, channel_id: int, *, limit: int, after_id: int = 0
) -> list[Line]:
    """The newest `limit` lines this NPC witnessed in the channel after `after_id`, oldest first."""
    async with conn.execute(
        "SELECT * FROM npc_memory WHERE npc_id = ? AND channel_id = ? AND id > ? ORDER BY id DESC LIMIT ?",
        (npc_id, channel_id, after_id, limit),
    ) as cur:
        rows = list(await cur.fetchall())
    return [_line(r) for r in reversed(rows)]


async def oldest(conn: aiosqlite.Connection, npc_id: int, channel_id: int, *, after_id: int, limit: int) -> list[Line]:
    async with conn.execute(
        "SELECT * FROM npc_memory WHERE npc_id = ? AND channel_id = ? AND id > ? ORDER BY id LIMIT ?",
        (npc_id, channel_id, after_id, limit),
    ) as cur:
        return [_line(r) for r in await cur.fetchall()]


async def unsummarized_tokens(conn: aiosqlite.Connection, npc_id: int, channel_id: int, after_id: int) -> int:
    async with conn.execute(
        "SELECT COALESCE(SUM(tokens), 0) FROM npc_memory WHERE npc_id = ? AND channel_id = ? AND id > ?",
        (npc_id, channel_id, after_id),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def state(conn: aiosqlite.Connection, npc_id: int, channel_id: int) -> ChannelState:
    async with conn.execute(
        "SELECT * FROM npc_channel_state WHERE npc_id = ? AND channel_id = ?", (npc_id, channel_id)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return ChannelState(npc_id, channel_id)
    return ChannelState(npc_id, channel_id, row["summary"], row["summary_upto"])


async def set_summary(conn: aiosqlite.Connection, npc_id: int, channel_id: int, summary: str, upto: int) -> None:
    await conn.execute(
        "INSERT INTO npc_channel_state (npc_id, channel_id, summary, summary_upto) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (npc_id, channel_id) DO UPDATE SET summary = excluded.summary,"
        " summary_upto = excluded.summary_upto",
        (npc_id, channel_id, summary, upto),
    )


async def pin(
    conn: aiosqlite.Connection, npc_id: int, channel_id: int, text: str, *, author_id: int, now: float
) -> int:
    async with conn.execute(
        "INSERT INTO npc_pins (npc_id, channel_id, text, author_id, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (npc_id, channel_id, text, author_id, now),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def pins(conn: aiosqlite.Connection, npc_id: int, channel_id: int, *, limit: int = 50) -> list[str]:
    async with conn.execute(
        "SELECT text FROM npc_pins WHERE npc_id = ? AND channel_id = ? ORDER BY id LIMIT ?", (npc_id, channel_id, limit)
    ) as cur:
        return [r["text"] for r in await cur.fetchall()]
