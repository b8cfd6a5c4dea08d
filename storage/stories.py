"""Stories and their players and pinned facts (the story aggregate; turns and votes have their own modules)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import aiosqlite

from storage.rows import as_dict, changed_rows, returning_one


class Phase(StrEnum):
    """Where a story is, stored as these strings in `stories.phase` (bot.stories.phases words them).

    lobby -> narrating (the opening) -> turns -> narrating -> ... -> ended; from turns a story may go
    to voting (group choice) and back, or be held (narration failed or undone: waiting for a retry).
    """

    LOBBY = "lobby"
    NARRATING = "narrating"
    TURNS = "turns"
    VOTING = "voting"
    HELD = "held"
    ENDED = "ended"


OPEN = f"phase <> '{Phase.ENDED}'"


@dataclass(frozen=True)
class Story:
    id: int
    guild_id: int
    channel_id: int
    starter_id: int
    title: str
    genre: str
    premise: str
    mode: str
    turn_timeout: int
    max_rounds: int
    narrate_every: int
    choices: int
    phase: Phase
    paused: bool
    round: int
    deadline: float | None
    author_note: str
    summary: str
    summary_upto: int
    lobby_message_id: int | None
    created_at: float
    ended_at: float | None

    @property
    def round_robin(self) -> bool:
        return self.mode == "round-robin"


@dataclass(frozen=True)
class Player:
    story_id: int
    user_id: int
    name: str
    position: int
    joined_at: float
    left_at: float | None

    @property
    def active(self) -> bool:
        return self.left_at is None


@dataclass(frozen=True)
class Pin:
    id: int
    story_id: int
    author_id: int
    text: str
    created_at: float


# Columns a service may change with `update`; anything else is a programming error.
UPDATABLE = frozenset(
    {"phase", "paused", "round", "deadline", "author_note", "summary", "summary_upto", "lobby_message_id", "ended_at"}
)


def _story(row: aiosqlite.Row) -> Story:
    data = as_dict(row)
    data["paused"] = bool(data["paused"])
    data["phase"] = Phase(data["phase"])
    return Story(**data)


async def create(
    conn: aiosqlite.Connection,
    *,
    guild_id: int,
    channel_id: int,
    starter_id: int,
    title: str,
    genre: str,
    premise: str,
    mode: str,
    turn_timeout: int,
    max_rounds: int,
    narrate_every: int,
    choices: int,
    now: float,
) -> Story:
    row = await returning_one(
        conn,
        "INSERT INTO stories (guild_id, channel_id, starter_id, title, genre, premise, mode, turn_timeout,"
        " max_rounds, narrate_every, choices, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (guild_id, channel_id, starter_id, title, genre, premise, mode, turn_timeout, max_rounds, narrate_every,
         choices, now),
    )  # fmt: skip
    return _story(row)


async def get(conn: aiosqlite.Connection, story_id: int) -> Story | None:
    async with conn.execute("SELECT * FROM stories WHERE id = ?", (story_id,)) as cur:
        row = await cur.fetchone()
    return _story(row) if row else None


async def open_in_channel(conn: aiosqlite.Connection, channel_id: int) -> Story | None:
    async with conn.execute(f"SELECT * FROM stories WHERE channel_id = ? AND {OPEN}", (channel_id,)) as cur:
        row = await cur.fetchone()
    return _story(row) if row else None


async def latest_in_channel(conn: aiosqlite.Connection, channel_id: int) -> Story | None:
    """The open story, or else the most recently created one (for exporting a finished story)."""
    async with conn.execute(
        f"SELECT * FROM stories WHERE channel_id = ? ORDER BY ({OPEN}) DESC, id DESC LIMIT 1", (channel_id,)
    ) as cur:
        row = await cur.fetchone()
    return _story(row) if row else None


async def all_open(conn: aiosqlite.Connection) -> list[Story]:
    async with conn.execute(f"SELECT * FROM stories WHERE {OPEN} ORDER BY id") as cur:
        return [_story(r) for r in await cur.fetchall()]


async def update(conn: aiosqlite.Connection, story_id: int, **changes: object) -> Story:
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    if changes:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        await conn.execute(f"UPDATE stories SET {assignments} WHERE id = ?", (*changes.values(), story_id))
    story = await get(conn, story_id)
    assert story is not None
    return story


# --- players ----------------------------------------------------------------------------------------
def _player(row: aiosqlite.Row) -> Player:
    return Player(row["story_id"], row["user_id"], row["name"], row["position"], row["joined_at"], row["left_at"])


async def players(conn: aiosqlite.Connection, story_id: int, *, active_only: bool = True) -> list[Player]:
    where = "AND left_at IS NULL" if active_only else ""
    async with conn.execute(
        f"SELECT * FROM story_players WHERE story_id = ? {where} ORDER BY position", (story_id,)
    ) as cur:
        return [_player(r) for r in await cur.fetchall()]


async def join(conn: aiosqlite.Connection, story_id: int, user_id: int, name: str, now: float) -> Player:
    """Add a player at the end of the turn order (a player who left and comes back also goes last)."""
    await conn.execute(
        "INSERT INTO story_players (story_id, user_id, name, position, joined_at) VALUES"
        " (?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM story_players WHERE story_id = ?), ?)"
        " ON CONFLICT (story_id, user_id) DO UPDATE SET left_at = NULL, position = excluded.position,"
        " joined_at = excluded.joined_at, name = excluded.name",
        (story_id, user_id, name, story_id, now),
    )
    async with conn.execute(
        "SELECT * FROM story_players WHERE story_id = ? AND user_id = ?", (story_id, user_id)
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return _player(row)


async def rename(conn: aiosqlite.Connection, story_id: int, user_id: int, name: str) -> Player | None:
    """Give an active player's character a new name; None if the user is not playing."""
    sql = "UPDATE story_players SET name = ? WHERE story_id = ? AND user_id = ? AND left_at IS NULL RETURNING *"
    async with conn.execute(sql, (name, story_id, user_id)) as cur:
        row = await cur.fetchone()
    return _player(row) if row else None


async def leave(conn: aiosqlite.Connection, story_id: int, user_id: int, now: float) -> bool:
    sql = "UPDATE story_players SET left_at = ? WHERE story_id = ? AND user_id = ? AND left_at IS NULL"
    return await changed_rows(conn, sql, (now, story_id, user_id)) == 1


# --- pins -------------------------------------------------------------------------------------------
async def add_pin(conn: aiosqlite.Connection, story_id: int, author_id: int, text: str, now: float) -> Pin:
    row = await returning_one(
        conn,
        "INSERT INTO story_pins (story_id, author_id, text, created_at) VALUES (?, ?, ?, ?) RETURNING *",
        (story_id, author_id, text, now),
    )
    return Pin(row["id"], row["story_id"], row["author_id"], row["text"], row["created_at"])


async def pins(conn: aiosqlite.Connection, story_id: int) -> list[Pin]:
    async with conn.execute("SELECT * FROM story_pins WHERE story_id = ? ORDER BY id", (story_id,)) as cur:
        return [Pin(r["id"], r["story_id"], r["author_id"], r["text"], r["created_at"]) for r in await cur.fetchall()]


async def remove_pin(conn: aiosqlite.Connection, story_id: int, pin_id: int) -> Pin | None:
    """Delete a pinned fact; returns it, or None if the story has no such pin."""
    async with conn.execute(
        "DELETE FROM story_pins WHERE story_id = ? AND id = ? RETURNING *", (story_id, pin_id)
    ) as cur:
        row = await cur.fetchone()
    return Pin(row["id"], row["story_id"], row["author_id"], row["text"], row["created_at"]) if row else None
