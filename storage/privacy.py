"""Removing stored text for good: one poem, a whole story, or everything of one user.

Deleted rows leave no readable trace in the file because the connection runs with
`PRAGMA secure_delete = ON` (storage/db.py) and the caller checkpoints the WAL afterwards
(`Database.checkpoint`). Every function here runs inside the caller's transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import aiosqlite

from storage.rows import changed_rows

REMOVED_TURN = "[removed at the writer's request]"
FORMER_PLAYER = "a former player"
PURGED = json.dumps({"purged": True})


@dataclass(frozen=True)
class StoryPurge:
    story_id: int
    turns: int
    votes: int
    pins: int
    players: int
    audit_entries: int
    lore: int = 0


@dataclass(frozen=True)
class UserErasure:
    poems: int  # the poems they asked for, deleted
    turns: int  # their story turns, text replaced and author cleared
    ballots: int  # their votes, deleted
    pins: int  # facts they pinned, deleted
    players: int  # their places in stories, deleted
    stories_started: int  # stories they started: starter cleared (the table's story stays)
    summaries: int  # story summaries cleared (they may retell their turns), rebuilt from what remains
    lore: int  # lore they wrote: author cleared (the server's world stays)
    audit_entries: int  # audit entries naming them: anonymised
    feedback: int = 0  # ratings, rated items and preference pairs that carried their words: deleted

    @property
    def total(self) -> int:
        counts = (self.poems, self.turns, self.ballots, self.pins, self.players, self.stories_started, self.lore)
        return sum(counts) + self.feedback


async def _count(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...]) -> int:
    async with conn.execute(sql, params) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def delete_poem(conn: aiosqlite.Connection, poem_id: int) -> bool:
    await conn.execute("DELETE FROM unfinished_messages WHERE kind = 'poem' AND ref_id = ?", (poem_id,))
    return await changed_rows(conn, "DELETE FROM poems WHERE id = ?", (poem_id,)) > 0


async def purge_story(
    conn: aiosqlite.Connection, story_id: int, *, guild_id: int, channel_id: int, since: float, with_lore: bool
) -> StoryPurge:
    """Delete a story and all that hangs off it (players, turns, votes, ballots, pins cascade).

    Audit entries about it (moderators' actions in its channel during its life) keep their action and
    time but lose their detail, which may quote its title, notes or pins. `with_lore` also deletes the
    lore of the story's channel (lore belongs to a channel, not to one story).
    """
    turns = await _count(conn, "SELECT count(*) FROM story_turns WHERE story_id = ?", (story_id,))
    votes = await _count(conn, "SELECT count(*) FROM story_votes WHERE story_id = ?", (story_id,))
    pins = await _count(conn, "SELECT count(*) FROM story_pins WHERE story_id = ?", (story_id,))
    players = await _count(conn, "SELECT count(*) FROM story_players WHERE story_id = ?", (story_id,))
    await conn.execute(
        "DELETE FROM unfinished_messages WHERE kind IN ('narration', 'notice') AND ref_id = ?", (story_id,)
    )
    await conn.execute("DELETE FROM stories WHERE id = ?", (story_id,))
    lore = 0
    lore_clause = ""
    if with_lore:
        lore = await changed_rows(conn, "DELETE FROM lore_entries WHERE channel_id = ?", (channel_id,))
        lore_clause = " OR action LIKE 'lore.%'"
    audited = await changed_rows(
        conn,
        "UPDATE audit_log SET detail = ? WHERE guild_id = ? AND created_at >= ? "
        f"AND json_extract(detail, '$.channel') = ? AND (action LIKE 'story.%'{lore_clause})",
        (PURGED, guild_id, since, channel_id),
    )
    return StoryPurge(story_id, turns, votes, pins, players, audited, lore)


async def erase_user(conn: aiosqlite.Connection, user_id: int) -> UserErasure:
    """Remove or anonymise everything stored about one user, on every server (see README, "Privacy")."""
    await conn.execute(
        "DELETE FROM unfinished_messages WHERE kind = 'poem' AND ref_id IN (SELECT id FROM poems WHERE author_id = ?)",
        (user_id,),
    )
    poems = await changed_rows(conn, "DELETE FROM poems WHERE author_id = ?", (user_id,))
    await conn.execute("UPDATE poems SET saved_by = 0 WHERE saved_by = ?", (user_id,))
    summaries = await changed_rows(
        conn,
        "UPDATE stories SET summary = '', summary_upto = 0 WHERE summary <> '' AND id IN "
        "(SELECT story_id FROM story_turns WHERE author_id = ? AND kind = 'player')",
        (user_id,),
    )
    turns = await changed_rows(
        conn,
        "UPDATE story_turns SET text = CASE kind WHEN 'player' THEN ? ELSE text END, author_id = NULL, "
        "words = 0, edited_at = ? WHERE author_id = ?",
        (REMOVED_TURN, time.time(), user_id),
    )
    ballots = await changed_rows(conn, "DELETE FROM story_ballots WHERE user_id = ?", (user_id,))
    pins = await changed_rows(conn, "DELETE FROM story_pins WHERE author_id = ?", (user_id,))
    players = await changed_rows(conn, "DELETE FROM story_players WHERE user_id = ?", (user_id,))
    started = await changed_rows(conn, "UPDATE stories SET starter_id = 0 WHERE starter_id = ?", (user_id,))
    lore = await changed_rows(conn, "UPDATE lore_entries SET author_id = 0 WHERE author_id = ?", (user_id,))
    audited = await changed_rows(
        conn, "UPDATE audit_log SET actor_id = 0, detail = ? WHERE actor_id = ?", (PURGED, user_id)
    )
    audited += await changed_rows(
        conn,
        "UPDATE audit_log SET detail = ? WHERE json_extract(detail, '$.author') = ? "
        "OR json_extract(detail, '$.starter') = ?",
        (PURGED, user_id, user_id),
    )
    return UserErasure(poems, turns, ballots, pins, players, started, summaries, lore, audited)


async def user_footprint(conn: aiosqlite.Connection, user_id: int) -> UserErasure:
    """What `erase_user` would touch, for the confirmation."""
    q = {
        "poems": "SELECT count(*) FROM poems WHERE author_id = ?",
        "turns": "SELECT count(*) FROM story_turns WHERE author_id = ?",
        "ballots": "SELECT count(*) FROM story_ballots WHERE user_id = ?",
        "pins": "SELECT count(*) FROM story_pins WHERE author_id = ?",
        "players": "SELECT count(*) FROM story_players WHERE user_id = ?",
        "stories_started": "SELECT count(*) FROM stories WHERE starter_id = ?",
        "lore": "SELECT count(*) FROM lore_entries WHERE author_id = ?",
        "audit_entries": "SELECT count(*) FROM audit_log WHERE actor_id = ?",
    }
    counts = {name: await _count(conn, sql, (user_id,)) for name, sql in q.items()}
    feedback = await _count(conn, "SELECT count(*) FROM feedback_ratings WHERE user_id = ?", (user_id,))
    return UserErasure(summaries=0, feedback=feedback, **counts)
