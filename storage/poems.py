"""Poems: every one the bot writes, and the saved ones that make up a server's anthology."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from storage.rows import as_dict, changed_rows, returning_one


@dataclass(frozen=True)
class Poem:
    id: int
    guild_id: int
    channel_id: int
    author_id: int
    topic: str
    form: str
    mood: str
    language: str
    text: str
    created_at: float
    saved_by: int | None
    saved_at: float | None
    word: str = ""  # an acrostic's word
    drafts: int = 0  # how many drafts the text was chosen from (0: not chosen, e.g. before checking existed)
    form_check: str | None = None  # FormCheck JSON of the text; None: not checked

    @property
    def saved(self) -> bool:
        return self.saved_at is not None


def _poem(row: aiosqlite.Row) -> Poem:
    return Poem(**as_dict(row))


async def create(
    conn: aiosqlite.Connection,
    *,
    guild_id: int,
    channel_id: int,
    author_id: int,
    topic: str,
    form: str,
    mood: str = "",
    language: str = "",
    word: str = "",
) -> Poem:
    row = await returning_one(
        conn,
        "INSERT INTO poems (guild_id, channel_id, author_id, topic, form, mood, language, word, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (guild_id, channel_id, author_id, topic, form, mood, language, word, time.time()),
    )
    return _poem(row)


async def get(conn: aiosqlite.Connection, poem_id: int) -> Poem | None:
    async with conn.execute("SELECT * FROM poems WHERE id = ?", (poem_id,)) as cur:
        row = await cur.fetchone()
    return _poem(row) if row else None


@dataclass(frozen=True)
class StoredDraft:
    poem_id: int
    idx: int
    text: str
    score: float
    passed: bool
    chosen: bool


async def set_text(
    conn: aiosqlite.Connection, poem_id: int, text: str, *, form_check: str | None = None, drafts: int = 0
) -> None:
    """The poem's text and, when its form was checked, the check (JSON) and how many drafts it won over."""
    await conn.execute(
        "UPDATE poems SET text = ?, form_check = ?, drafts = ? WHERE id = ?", (text, form_check, drafts, poem_id)
    )


async def set_drafts(conn: aiosqlite.Connection, poem_id: int, drafts: list[StoredDraft]) -> None:
    """Keep the drafts of the latest writing (those of an earlier one go)."""
    await conn.execute("DELETE FROM poem_drafts WHERE poem_id = ?", (poem_id,))
    await conn.executemany(
        "INSERT INTO poem_drafts (poem_id, idx, text, score, passed, chosen) VALUES (?, ?, ?, ?, ?, ?)",
        [(poem_id, d.idx, d.text, d.score, int(d.passed), int(d.chosen)) for d in drafts],
    )


async def drafts(conn: aiosqlite.Connection, poem_id: int) -> list[StoredDraft]:
    async with conn.execute(
        "SELECT poem_id, idx, text, score, passed, chosen FROM poem_drafts WHERE poem_id = ? ORDER BY idx",
        (poem_id,),
    ) as cur:
        rows = await cur.fetchall()
    return [StoredDraft(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in rows]


async def save(conn: aiosqlite.Connection, poem_id: int, saved_by: int) -> bool:
    """Add to the anthology; False if it was already there."""
    changed = await changed_rows(
        conn,
        "UPDATE poems SET saved_by = ?, saved_at = ? WHERE id = ? AND saved_at IS NULL",
        (saved_by, time.time(), poem_id),
    )
    return changed == 1


async def unsave(conn: aiosqlite.Connection, poem_id: int) -> bool:
    changed = await changed_rows(
        conn, "UPDATE poems SET saved_by = NULL, saved_at = NULL WHERE id = ? AND saved_at IS NOT NULL", (poem_id,)
    )
    return changed == 1


async def anthology(conn: aiosqlite.Connection, guild_id: int, *, limit: int, offset: int = 0) -> list[Poem]:
    async with conn.execute(
        "SELECT * FROM poems WHERE guild_id = ? AND saved_at IS NOT NULL ORDER BY saved_at DESC, id DESC "
        "LIMIT ? OFFSET ?",
        (guild_id, limit, offset),
    ) as cur:
        return [_poem(r) for r in await cur.fetchall()]


async def anthology_size(conn: aiosqlite.Connection, guild_id: int) -> int:
    async with conn.execute(
        "SELECT COUNT(*) FROM poems WHERE guild_id = ? AND saved_at IS NOT NULL", (guild_id,)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
