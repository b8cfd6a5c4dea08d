"""Group choice: the narrator's alternative continuations and the players' ballots."""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiosqlite

from storage.rows import returning_one


@dataclass(frozen=True)
class Vote:
    id: int
    story_id: int
    round: int
    options: tuple[str, ...]
    deadline: float
    message_id: int | None
    closed_at: float | None
    winner: int | None
    created_at: float | None = None  # None for votes opened before migration 0004


def _vote(row: aiosqlite.Row) -> Vote:
    return Vote(
        row["id"], row["story_id"], row["round"], tuple(json.loads(row["options"])), row["deadline"],
        row["message_id"], row["closed_at"], row["winner"], row["created_at"],
    )  # fmt: skip


async def create(
    conn: aiosqlite.Connection, story_id: int, round: int, options: list[str], deadline: float, now: float
) -> Vote:
    row = await returning_one(
        conn,
        "INSERT INTO story_votes (story_id, round, options, deadline, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *",
        (story_id, round, json.dumps(options, ensure_ascii=False), deadline, now),
    )
    return _vote(row)


async def get(conn: aiosqlite.Connection, vote_id: int) -> Vote | None:
    async with conn.execute("SELECT * FROM story_votes WHERE id = ?", (vote_id,)) as cur:
        row = await cur.fetchone()
    return _vote(row) if row else None


async def open_for(conn: aiosqlite.Connection, story_id: int) -> Vote | None:
    async with conn.execute(
        "SELECT * FROM story_votes WHERE story_id = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1", (story_id,)
    ) as cur:
        row = await cur.fetchone()
    return _vote(row) if row else None


async def set_message(conn: aiosqlite.Connection, vote_id: int, message_id: int) -> None:
    await conn.execute("UPDATE story_votes SET message_id = ? WHERE id = ?", (message_id, vote_id))


async def set_deadline(conn: aiosqlite.Connection, vote_id: int, deadline: float) -> None:
    await conn.execute("UPDATE story_votes SET deadline = ? WHERE id = ?", (deadline, vote_id))


async def cast(conn: aiosqlite.Connection, vote_id: int, user_id: int, choice: int, now: float) -> None:
    """Record or change a player's ballot."""
    await conn.execute(
        "INSERT INTO story_ballots (vote_id, user_id, choice, cast_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (vote_id, user_id) DO UPDATE SET choice = excluded.choice, cast_at = excluded.cast_at",
        (vote_id, user_id, choice, now),
    )


async def ballots(conn: aiosqlite.Connection, vote_id: int) -> dict[int, int]:
    async with conn.execute("SELECT user_id, choice FROM story_ballots WHERE vote_id = ?", (vote_id,)) as cur:
        return {r[0]: r[1] for r in await cur.fetchall()}


async def close(conn: aiosqlite.Connection, vote_id: int, winner: int | None, now: float) -> None:
    await conn.execute("UPDATE story_votes SET closed_at = ?, winner = ? WHERE id = ?", (now, winner, vote_id))
