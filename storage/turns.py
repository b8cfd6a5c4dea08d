"""The turns of a story: player contributions, skips, and the narrator's parts, in order."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import as_dict, returning_one


@dataclass(frozen=True)
class Turn:
    id: int
    story_id: int
    seq: int
    round: int
    kind: str  # "player", "narrator", "skip" or "npc" (an NPC's answer in a story round)
    author_id: int | None
    text: str
    tokens: int
    words: int
    created_at: float
    edited_at: float | None
    speaker: str = ""  # an NPC turn's speaker, as named when it spoke


@dataclass(frozen=True)
class TurnStats:
    turns: int
    words: int
    by_author: dict[int, int]  # player turns per author


def _turn(row: aiosqlite.Row) -> Turn:
    return Turn(**as_dict(row))


async def add(
    conn: aiosqlite.Connection,
    story_id: int,
    *,
    round: int,
    kind: str,
    author_id: int | None,
    text: str,
    tokens: int,
    words: int,
    now: float,
    speaker: str = "",
) -> Turn:
    row = await returning_one(
        conn,
        "INSERT INTO story_turns (story_id, seq, round, kind, author_id, text, tokens, words, created_at, speaker)"
        " VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM story_turns WHERE story_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING *",
        (story_id, story_id, round, kind, author_id, text, tokens, words, now, speaker),
    )
    return _turn(row)


async def last(conn: aiosqlite.Connection, story_id: int) -> Turn | None:
    async with conn.execute(
        "SELECT * FROM story_turns WHERE story_id = ? ORDER BY seq DESC LIMIT 1", (story_id,)
    ) as cur:
        row = await cur.fetchone()
    return _turn(row) if row else None


async def get(conn: aiosqlite.Connection, turn_id: int) -> Turn | None:
    async with conn.execute("SELECT * FROM story_turns WHERE id = ?", (turn_id,)) as cur:
        row = await cur.fetchone()
    return _turn(row) if row else None


async def delete(conn: aiosqlite.Connection, turn_id: int) -> None:
    await conn.execute("DELETE FROM story_turns WHERE id = ?", (turn_id,))


async def edit(conn: aiosqlite.Connection, turn_id: int, text: str, tokens: int, words: int, now: float) -> None:
    await conn.execute(
        "UPDATE story_turns SET text = ?, tokens = ?, words = ?, edited_at = ? WHERE id = ?",
        (text, tokens, words, now, turn_id),
    )


async def in_round(conn: aiosqlite.Connection, story_id: int, round: int) -> list[Turn]:
    async with conn.execute(
        "SELECT * FROM story_turns WHERE story_id = ? AND round = ? ORDER BY seq", (story_id, round)
    ) as cur:
        return [_turn(r) for r in await cur.fetchall()]


async def recent(conn: aiosqlite.Connection, story_id: int, *, limit: int, after_seq: int = 0) -> list[Turn]:
    """The newest `limit` turns after `after_seq`, oldest first. Uses the (story_id, seq) index: its cost does
    not depend on how long the story is."""
    async with conn.execute(
        "SELECT * FROM story_turns WHERE story_id = ? AND seq > ? AND kind <> 'skip' ORDER BY seq DESC LIMIT ?",
        (story_id, after_seq, limit),
    ) as cur:
        rows = await cur.fetchall()
    return [_turn(r) for r in reversed(list(rows))]


async def oldest(conn: aiosqlite.Connection, story_id: int, *, after_seq: int, upto_seq: int, limit: int) -> list[Turn]:
    """The oldest `limit` turns with after_seq < seq <= upto_seq, oldest first (what to summarise next)."""
    async with conn.execute(
        "SELECT * FROM story_turns WHERE story_id = ? AND seq > ? AND seq <= ? AND kind <> 'skip' ORDER BY seq LIMIT ?",
        (story_id, after_seq, upto_seq, limit),
    ) as cur:
        return [_turn(r) for r in await cur.fetchall()]


async def all_of(conn: aiosqlite.Connection, story_id: int) -> list[Turn]:
    async with conn.execute("SELECT * FROM story_turns WHERE story_id = ? ORDER BY seq", (story_id,)) as cur:
        return [_turn(r) for r in await cur.fetchall()]


async def stats(conn: aiosqlite.Connection, story_id: int) -> TurnStats:
    async with conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(words), 0) FROM story_turns WHERE story_id = ? AND kind <> 'skip'",
        (story_id,),
    ) as cur:
        row = await cur.fetchone()
    async with conn.execute(
        "SELECT author_id, COUNT(*) FROM story_turns WHERE story_id = ? AND kind = 'player' GROUP BY author_id",
        (story_id,),
    ) as cur:
        by_author = {r[0]: r[1] for r in await cur.fetchall()}
    return TurnStats(int(row[0]) if row else 0, int(row[1]) if row else 0, by_author)


async def unsummarized_tokens(conn: aiosqlite.Connection, story_id: int, after_seq: int) -> int:
    async with conn.execute(
        "SELECT COALESCE(SUM(tokens), 0) FROM story_turns WHERE story_id = ? AND seq > ?", (story_id, after_seq)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
