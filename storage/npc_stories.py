"""NPCs and characters in story rounds (issue 10): a story's `as_characters` option. The NPC turns
themselves are story turns (`storage.turns`, kind 'npc')."""

from __future__ import annotations

import aiosqlite


async def set_as_characters(conn: aiosqlite.Connection, story_id: int, on: bool) -> None:
    await conn.execute(
        "INSERT INTO story_characters (story_id, as_characters) VALUES (?, ?)"
        " ON CONFLICT (story_id) DO UPDATE SET as_characters = excluded.as_characters",
        (story_id, int(on)),
    )


async def as_characters(conn: aiosqlite.Connection, story_id: int) -> bool:
    async with conn.execute("SELECT as_characters FROM story_characters WHERE story_id = ?", (story_id,)) as cur:
        row = await cur.fetchone()
    return bool(row and row[0])
