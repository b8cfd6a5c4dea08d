"""A full disk and a database locked by another process (issue 14), on a real SQLite file.

The disk is made full honestly for SQLite: `PRAGMA max_page_count` caps the file at its current size,
so a write that needs another page fails with SQLITE_FULL exactly as on a full disk. The lock is held
by another process with `BEGIN EXCLUSIVE`. Either way the write is refused with a message for the user,
nothing of it is kept, and writes work again once the condition clears.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bot.errors import describe
from storage import poems
from storage.db import Database, DatabaseLocked, DiskFull

POEM = {"guild_id": 1, "channel_id": 2, "author_id": 3, "topic": "the tide", "form": "haiku"}
LONG_TEXT = "The tide comes in over the grey stones. " * 4000  # ~160 KB: many new pages


async def poem_count(db: Database) -> int:
    async with db.read() as conn:
        async with conn.execute("SELECT count(*) FROM poems") as cursor:
            row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def write_poem(db: Database) -> int:
    """Two statements in one transaction: the row, then its (long) text."""
    async with db.transaction() as conn:
        poem = await poems.create(conn, **POEM)
        await poems.set_text(conn, poem.id, LONG_TEXT)
    return poem.id


async def test_a_full_disk_refuses_the_write_whole_says_so_and_recovers(db: Database) -> None:
    await write_poem(db)
    async with db.read() as conn:
        async with conn.execute("PRAGMA page_count") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await conn.execute(f"PRAGMA max_page_count = {row[0]}")  # the file may not grow: the disk is full

    with pytest.raises(DiskFull) as info:
        await write_poem(db)
    assert await poem_count(db) == 1, "the poem row written before the text failed was rolled back"
    message = describe(info.value)
    assert message is not None and "disk is full" in message and "nothing was changed" in message

    async with db.read() as conn:
        await conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    await write_poem(db)
    assert await poem_count(db) == 2
    async with db.read() as conn:
        async with conn.execute("PRAGMA integrity_check") as cursor:
            assert tuple(await cursor.fetchone() or ()) == ("ok",)


async def test_a_database_locked_by_another_process_refuses_the_write_says_so_and_recovers(
    db: Database, tmp_path: Path
) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('BEGIN EXCLUSIVE')\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
        "conn.rollback()\n",
        db.path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert (await holder.stdout.readline()).strip() == b"held"
        with pytest.raises(DatabaseLocked) as info:
            await write_poem(db)
        message = describe(info.value)
        assert message is not None and "busy" in message and "Nothing was changed" in message
    finally:
        holder.stdin.write(b"release\n")
        await holder.stdin.drain()
        assert await holder.wait() == 0
    assert await poem_count(db) == 0, "nothing of the refused write was kept"
    await write_poem(db)
    assert await poem_count(db) == 1
