"""A full disk, seen by a user through the loopback Discord with the real bot and a real SQLite file
(issue 14): the command is refused with a clear message, nothing of it is stored, and the same command
works once there is room again (a /poem: its row goes to the table the
filler filled). (Rollback and the locked case: tests/storage/test_faults.py.)

The disk is filled honestly for SQLite: `PRAGMA max_page_count` caps the bot's file at its size, and the
free room left in its pages is used up, so the next write fails with SQLITE_FULL as on a full disk.
"""

from __future__ import annotations

import pytest

from storage import poems
from storage.db import DiskFull
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_stories import answer
from tests.fakediscord import FakeDiscord


async def test_a_full_disk_is_told_to_the_user_nothing_is_half_written_and_it_recovers(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    assert taleweaver.bot is not None
    db, chan, alice = taleweaver.bot.db, world.channel, world.alice
    async with db.read() as conn:
        async with conn.execute("PRAGMA page_count") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await conn.execute(f"PRAGMA max_page_count = {row[0]}")
    filler = {"guild_id": 0, "channel_id": 0, "author_id": 0, "form": "haiku"}
    for size in (200, 0):  # use up the room left inside the pages: big rows, then the smallest
        with pytest.raises(DiskFull):
            for _ in range(100_000):
                async with db.transaction() as conn:
                    await poems.create(conn, topic="x" * size, **filler)
    poems_before = await _count(taleweaver)

    refused = await fake.invoke(alice, chan, "poem", topic="a harbour when the disk is full", form="haiku")
    text = await answer(refused)
    assert refused.ephemeral and "disk is full" in text and "nothing was changed" in text, text
    assert "incident" not in text
    assert await _count(taleweaver) == poems_before, "nothing of the refused poem was kept"

    async with db.read() as conn:
        await conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    again = await fake.invoke(alice, chan, "poem", topic="a harbour with room again", form="haiku")
    await again.wait_acknowledged(timeout=3)
    assert again.deferred and not again.ephemeral, "accepted: the poem is being written"
    assert await _count(taleweaver) == poems_before + 1


async def _count(taleweaver: BotHandle) -> int:
    assert taleweaver.bot is not None
    async with taleweaver.bot.db.read() as conn:
        async with conn.execute("SELECT count(*) FROM poems") as cursor:
            row = await cursor.fetchone()
    assert row is not None
    return int(row[0])
