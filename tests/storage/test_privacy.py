"""storage.privacy on a real SQLite file: after a purge or a forget-me the text is gone from the bytes."""

from __future__ import annotations

from pathlib import Path

from storage import guilds, lore, poems, privacy, stories, turns, votes
from storage.db import Database

GUILD, OTHER_GUILD, CHANNEL, ALICE, BOB = 10, 20, 100, 1, 2


def file_bytes(db: Database) -> bytes:
    """The database file and its WAL, as bytes on disk."""
    path = Path(db.path)
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def seed_story(db: Database, marker: str, *, guild: int = GUILD, channel: int = CHANNEL) -> int:
    async with db.transaction() as conn:
        story = await stories.create(
            conn, guild_id=guild, channel_id=channel, starter_id=ALICE, title=f"T {marker}", genre="g",
            premise=f"P {marker}", mode="round-robin", turn_timeout=0, max_rounds=0, narrate_every=3, choices=0,
            now=1.0,
        )  # fmt: skip
        await stories.join(conn, story.id, ALICE, f"Name {marker}", 1.0)
        await stories.join(conn, story.id, BOB, "Bob", 1.0)
        await turns.add(conn, story.id, round=1, kind="player", author_id=ALICE, text=f"turn {marker}", tokens=3,
                        words=2, now=2.0)  # fmt: skip
        await turns.add(conn, story.id, round=1, kind="narrator", author_id=None, text=f"narr {marker}", tokens=3,
                        words=2, now=3.0)  # fmt: skip
        await stories.add_pin(conn, story.id, ALICE, f"pin {marker}", 4.0)
        vote = await votes.create(conn, story.id, 1, [f"opt {marker}", "b"], 10.0, 5.0)
        await votes.cast(conn, vote.id, ALICE, 0, 6.0)
        await stories.update(conn, story.id, summary=f"summary {marker}")
        await guilds.audit(conn, guild, 99, "story.note", channel=channel, title=f"T {marker}", note=marker)
    return story.id


async def test_purge_leaves_no_trace_in_the_file_and_spares_other_stories(db: Database) -> None:
    marker, kept = "Zq7purgeMARKERxk", "Kp4keptMARKERvv"
    story_id = await seed_story(db, marker)
    await seed_story(db, kept, guild=OTHER_GUILD, channel=200)
    async with db.transaction() as conn:
        await lore.add(conn, guild_id=GUILD, channel_id=CHANNEL, keys=["k"], content=f"lore {marker}",
                       author_id=ALICE, priority=100, now=1.0)  # fmt: skip
    assert marker.encode() in file_bytes(db), "the search can see the text before the purge"

    async with db.transaction() as conn:
        result = await privacy.purge_story(conn, story_id, guild_id=GUILD, channel_id=CHANNEL, since=0.0,
                                           with_lore=True)  # fmt: skip
    assert await db.checkpoint()
    assert (result.turns, result.votes, result.pins, result.players, result.lore) == (2, 1, 1, 2, 1)
    assert result.audit_entries == 1
    assert marker.encode() not in file_bytes(db)
    assert marker.encode("utf-16-le") not in file_bytes(db)
    assert kept.encode() in file_bytes(db), "another server's story is untouched"
    async with db.read() as conn:
        async with conn.execute("PRAGMA integrity_check") as cur:
            assert (await cur.fetchone())[0] == "ok"


async def test_erase_user_removes_their_text_everywhere_and_keeps_the_others(db: Database) -> None:
    marker = "Wm3forgetMARKERqz"
    story_id = await seed_story(db, marker)
    await seed_story(db, marker, guild=OTHER_GUILD, channel=200)
    async with db.transaction() as conn:
        await poems.create(conn, guild_id=GUILD, channel_id=CHANNEL, author_id=ALICE, topic=f"topic {marker}",
                           form="haiku", mood="", language="")  # fmt: skip
        other = await poems.create(conn, guild_id=GUILD, channel_id=CHANNEL, author_id=BOB, topic="bob's",
                                   form="haiku", mood="", language="")  # fmt: skip
        await turns.add(conn, story_id, round=1, kind="player", author_id=BOB, text="bob writes", tokens=1,
                        words=2, now=7.0)  # fmt: skip
    async with db.read() as conn:
        before = await privacy.user_footprint(conn, ALICE)
    assert (before.poems, before.turns, before.ballots, before.pins) == (1, 2, 2, 2)

    async with db.transaction() as conn:
        erased = await privacy.erase_user(conn, ALICE)
    assert await db.checkpoint()
    assert (erased.poems, erased.turns, erased.ballots, erased.pins, erased.players) == (1, 2, 2, 2, 2)
    data = file_bytes(db)
    for text in (f"topic {marker}", f"turn {marker}", f"pin {marker}", f"Name {marker}", f"summary {marker}"):
        assert text.encode() not in data, text
    assert b"bob writes" in data and b"bob's" in data, "other people's text stays"
    async with db.read() as conn:
        assert await poems.get(conn, other.id) is not None
        assert next(t.text for t in await turns.all_of(conn, story_id) if t.kind == "player") == privacy.REMOVED_TURN
        assert (await privacy.user_footprint(conn, ALICE)).total == 0
