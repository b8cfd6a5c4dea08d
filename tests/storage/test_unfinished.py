"""storage.unfinished: messages the bot is still writing into, kept across a restart."""

from __future__ import annotations

from pathlib import Path

from storage import unfinished
from storage.db import Database

NOW = 1_700_000_000.0


async def test_records_survive_a_reopen_until_removed(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with Database.open(path) as db, db.transaction() as conn:
        narration = await unfinished.add(
            conn, kind="narration", ref_id=7, channel_id=70, message_id=None, interaction_token=None, now=NOW
        )
        poem = await unfinished.add(
            conn, kind="poem", ref_id=8, channel_id=80, message_id=800, interaction_token="tok", now=NOW + 1
        )
        await unfinished.set_message(conn, narration.id, 700)
    async with Database.open(path) as db, db.transaction() as conn:
        left = await unfinished.of_kinds(conn, ("narration", "notice"))
        assert [(r.kind, r.ref_id, r.channel_id, r.message_id, r.started_at) for r in left] == [
            ("narration", 7, 70, 700, NOW)
        ]
        assert await unfinished.of_kinds(conn, ("poem",)) == [poem]
        await unfinished.remove(conn, poem.id)
        assert await unfinished.of_kinds(conn, ("poem",)) == []
