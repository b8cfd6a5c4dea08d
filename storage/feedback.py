"""Feedback on what the bot writes: generated items, ratings, preference pairs (see migrations/*_feedback.sql)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiosqlite

from storage.rows import changed_rows, returning_one

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Item:
    id: int
    guild_id: int
    kind: str
    poem_id: int | None
    turn_id: int | None
    requester_id: int | None
    prompt: Messages
    text: str
    consent: bool
    approved_by: int | None
    approved_at: float | None
    created_at: float


@dataclass(frozen=True)
class Tally:
    up: int
    down: int

    @property
    def score(self) -> int:
        return self.up - self.down


@dataclass(frozen=True)
class Pair:
    id: int
    guild_id: int
    source: str
    user_id: int | None
    prompt: Messages
    chosen: str
    rejected: str
    consent: bool
    created_at: float


@dataclass(frozen=True)
class Forgotten:
    """What `forget_user` removed."""

    ratings: int
    items: int
    pairs: int

    @property
    def total(self) -> int:
        return self.ratings + self.items + self.pairs


def _item(row: aiosqlite.Row) -> Item:
    return Item(
        row["id"], row["guild_id"], row["kind"], row["poem_id"], row["turn_id"], row["requester_id"],
        json.loads(row["prompt"]), row["text"], bool(row["consent"]), row["approved_by"], row["approved_at"],
        row["created_at"],
    )  # fmt: skip


def _pair(row: aiosqlite.Row) -> Pair:
    return Pair(
        row["id"], row["guild_id"], row["source"], row["user_id"], json.loads(row["prompt"]), row["chosen"],
        row["rejected"], bool(row["consent"]), row["created_at"],
    )  # fmt: skip


def _json(messages: Messages) -> str:
    return json.dumps(messages, ensure_ascii=False)


async def add_item(
    conn: aiosqlite.Connection,
    *,
    guild_id: int,
    kind: str,
    prompt: Messages,
    text: str,
    consent: bool,
    poem_id: int | None = None,
    turn_id: int | None = None,
    requester_id: int | None = None,
    now: float | None = None,
) -> Item:
    row = await returning_one(
        conn,
        "INSERT INTO feedback_items (guild_id, kind, poem_id, turn_id, requester_id, prompt, text, consent, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (guild_id, kind, poem_id, turn_id, requester_id, _json(prompt), text, int(consent), now or time.time()),
    )
    return _item(row)


async def get_item(conn: aiosqlite.Connection, item_id: int) -> Item | None:
    async with conn.execute("SELECT * FROM feedback_items WHERE id = ?", (item_id,)) as cur:
        row = await cur.fetchone()
    return _item(row) if row else None


async def latest_for_poem(conn: aiosqlite.Connection, poem_id: int) -> Item | None:
    async with conn.execute(
        "SELECT * FROM feedback_items WHERE poem_id = ? ORDER BY id DESC LIMIT 1", (poem_id,)
    ) as cur:
        row = await cur.fetchone()
    return _item(row) if row else None


async def approve(conn: aiosqlite.Connection, item_id: int, user_id: int | None, now: float | None = None) -> None:
    await conn.execute(
        "UPDATE feedback_items SET approved_by = ?, approved_at = ? WHERE id = ? AND approved_at IS NULL",
        (user_id, now or time.time(), item_id),
    )


async def rate(
    conn: aiosqlite.Connection, item_id: int, user_id: int, rating: int, consent: bool, now: float | None = None
) -> None:
    """Record or change a user's rating (+1 or -1) of an item."""
    await conn.execute(
        "INSERT INTO feedback_ratings (item_id, user_id, rating, consent, rated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (item_id, user_id) DO UPDATE SET rating = excluded.rating, consent = excluded.consent,"
        " rated_at = excluded.rated_at",
        (item_id, user_id, rating, int(consent), now or time.time()),
    )


async def tally(conn: aiosqlite.Connection, item_id: int) -> Tally:
    async with conn.execute(
        "SELECT COALESCE(SUM(rating = 1), 0), COALESCE(SUM(rating = -1), 0) FROM feedback_ratings WHERE item_id = ?",
        (item_id,),
    ) as cur:
        row = await cur.fetchone()
    return Tally(int(row[0]), int(row[1])) if row else Tally(0, 0)


async def rating_of(conn: aiosqlite.Connection, item_id: int, user_id: int) -> int | None:
    async with conn.execute(
        "SELECT rating FROM feedback_ratings WHERE item_id = ? AND user_id = ?", (item_id, user_id)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def set_vote_prompt(
    conn: aiosqlite.Connection, vote_id: int, guild_id: int, prompt: Messages, consent: bool, now: float | None = None
) -> None:
    await conn.execute(
        "INSERT OR REPLACE INTO feedback_vote_prompts (vote_id, guild_id, prompt, consent, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (vote_id, guild_id, _json(prompt), int(consent), now or time.time()),
    )


async def vote_prompt(conn: aiosqlite.Connection, vote_id: int) -> tuple[Messages, bool] | None:
    async with conn.execute("SELECT prompt, consent FROM feedback_vote_prompts WHERE vote_id = ?", (vote_id,)) as cur:
        row = await cur.fetchone()
    return (json.loads(row["prompt"]), bool(row["consent"])) if row else None


async def add_pair(
    conn: aiosqlite.Connection,
    *,
    guild_id: int,
    source: str,
    prompt: Messages,
    chosen: str,
    rejected: str,
    consent: bool,
    user_id: int | None = None,
    vote_id: int | None = None,
    poem_id: int | None = None,
    old_poem_id: int | None = None,
    now: float | None = None,
) -> Pair:
    row = await returning_one(
        conn,
        "INSERT INTO feedback_pairs (guild_id, source, vote_id, poem_id, old_poem_id, user_id, prompt, chosen,"
        " rejected, consent, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (
            guild_id, source, vote_id, poem_id, old_poem_id, user_id, _json(prompt), chosen, rejected,
            int(consent), now or time.time(),
        ),
    )  # fmt: skip
    return _pair(row)


async def pairs_for_vote(conn: aiosqlite.Connection, vote_id: int) -> list[Pair]:
    async with conn.execute("SELECT * FROM feedback_pairs WHERE vote_id = ? ORDER BY id", (vote_id,)) as cur:
        return [_pair(r) for r in await cur.fetchall()]


# --- export ---------------------------------------------------------------------------------------------
def _scope(table: str = "") -> str:
    """The export's filters (server, since); parameters: guild_id, guild_id, since."""
    return f" AND (? IS NULL OR {table}guild_id = ?) AND {table}created_at >= ?"


_SCOPE = _scope()


async def approved_items(
    conn: aiosqlite.Connection, *, guild_id: int | None = None, since: float = 0.0
) -> AsyncIterator[tuple[Item, Tally]]:
    """Consented items someone approved: saved, chosen by a vote, or rated more up than down."""
    sql = (
        "SELECT i.*, COALESCE(SUM(r.rating = 1), 0) AS up, COALESCE(SUM(r.rating = -1), 0) AS down"
        " FROM feedback_items i LEFT JOIN feedback_ratings r ON r.item_id = i.id AND r.consent = 1"
        f" WHERE i.consent = 1{_scope('i.')}"
        " GROUP BY i.id HAVING i.approved_at IS NOT NULL OR up > down ORDER BY i.id"
    )
    async with conn.execute(sql, (guild_id, guild_id, since)) as cur:
        async for row in cur:
            yield _item(row), Tally(int(row["up"]), int(row["down"]))


async def consented_pairs(
    conn: aiosqlite.Connection, *, guild_id: int | None = None, since: float = 0.0
) -> AsyncIterator[Pair]:
    async with conn.execute(
        f"SELECT * FROM feedback_pairs WHERE consent = 1{_SCOPE} ORDER BY id", (guild_id, guild_id, since)
    ) as cur:
        async for row in cur:
            yield _pair(row)


async def count_candidates(conn: aiosqlite.Connection, *, guild_id: int | None = None, since: float = 0.0) -> int:
    """Rows an export looks at (for its progress bar)."""
    total = 0
    for table in ("feedback_items", "feedback_pairs"):
        async with conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE consent = 1{_SCOPE}", (guild_id, guild_id, since)
        ) as cur:
            row = await cur.fetchone()
        total += int(row[0]) if row else 0
    return total


# --- forgetting -----------------------------------------------------------------------------------------
async def forget_user(conn: aiosqlite.Connection, user_id: int) -> Forgotten:
    """Delete a user's feedback and every feedback row that may carry their words: their ratings, the
    pairs they made, items they asked for, and items, pairs and vote prompts of stories they played in
    (a narrator's prompt quotes the players' turns). For `/privacy forget-me`."""
    ratings = await changed_rows(conn, "DELETE FROM feedback_ratings WHERE user_id = ?", (user_id,))
    their_stories = "SELECT story_id FROM story_players WHERE user_id = ?"
    items = await changed_rows(
        conn,
        "DELETE FROM feedback_items WHERE requester_id = ?"
        " OR poem_id IN (SELECT id FROM poems WHERE author_id = ?)"
        f" OR turn_id IN (SELECT id FROM story_turns WHERE story_id IN ({their_stories}))",
        (user_id, user_id, user_id),
    )
    votes = f"SELECT id FROM story_votes WHERE story_id IN ({their_stories})"
    pairs = await changed_rows(
        conn,
        "DELETE FROM feedback_pairs WHERE user_id = ?"
        " OR poem_id IN (SELECT id FROM poems WHERE author_id = ?)"
        " OR old_poem_id IN (SELECT id FROM poems WHERE author_id = ?)"
        f" OR vote_id IN ({votes})",
        (user_id, user_id, user_id, user_id),
    )
    await conn.execute(f"DELETE FROM feedback_vote_prompts WHERE vote_id IN ({votes})", (user_id,))
    return Forgotten(ratings, items, pairs)
