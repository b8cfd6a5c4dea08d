"""storage.poems: the poems every request creates, and the anthology of saved ones."""

from __future__ import annotations

import pytest

import storage.poems
from storage import poems
from storage.db import Database
from tests.support.clock import FakeClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(storage.poems, "time", fake)
    return fake


async def make(db: Database, guild_id: int = 1, **fields: object) -> poems.Poem:
    values = {"channel_id": 2, "author_id": 3, "topic": "the moon", "form": "haiku"} | fields
    async with db.transaction() as conn:
        return await poems.create(conn, guild_id=guild_id, **values)  # type: ignore[arg-type]


async def test_create_and_get_round_trip(db: Database, clock: FakeClock) -> None:
    poem = await make(db, guild_id=9, topic="ünïcödé 🌙 <@&1>", mood="wistful", language="Deutsch")
    assert poem.id > 0
    assert (poem.guild_id, poem.channel_id, poem.author_id) == (9, 2, 3)
    assert (poem.topic, poem.form, poem.mood, poem.language) == ("ünïcödé 🌙 <@&1>", "haiku", "wistful", "Deutsch")
    assert poem.text == ""
    assert poem.created_at == clock.now
    assert not poem.saved and poem.saved_by is None
    async with db.read() as conn:
        assert await poems.get(conn, poem.id) == poem
        assert await poems.get(conn, poem.id + 1000) is None


async def test_create_defaults(db: Database) -> None:
    async with db.transaction() as conn:
        poem = await poems.create(conn, guild_id=1, channel_id=2, author_id=3, topic="t", form="sonnet")
    assert (poem.mood, poem.language) == ("", "")


async def test_set_text_changes_only_that_poem(db: Database) -> None:
    first, second = await make(db), await make(db)
    async with db.transaction() as conn:
        await poems.set_text(conn, first.id, "line one\nline two ✨")
    async with db.read() as conn:
        assert (await poems.get(conn, first.id)).text == "line one\nline two ✨"
        assert (await poems.get(conn, second.id)).text == ""


async def test_text_with_its_check_and_drafts_round_trip(db: Database) -> None:
    poem = await make(db, form="acrostic", word="MOON")
    kept = [poems.StoredDraft(poem.id, i, f"draft {i}", i / 4, i == 2, i == 2) for i in range(4)]
    async with db.transaction() as conn:
        await poems.set_text(conn, poem.id, "Mist", form_check='{"x": 1}', drafts=4)
        await poems.set_drafts(conn, poem.id, kept)
    async with db.transaction() as conn:  # a regeneration replaces the drafts, it does not add to them
        await poems.set_drafts(conn, poem.id, kept[:2])
    async with db.read() as conn:
        stored = await poems.get(conn, poem.id)
        assert stored is not None and (stored.word, stored.form_check, stored.drafts) == ("MOON", '{"x": 1}', 4)
        assert await poems.drafts(conn, poem.id) == kept[:2]
        assert await poems.drafts(conn, poem.id + 1) == []


async def test_save_is_idempotent_and_unsave_reverses_it(db: Database, clock: FakeClock) -> None:
    poem = await make(db)
    clock.now = 1_800_000_000.0
    async with db.transaction() as conn:
        assert await poems.save(conn, poem.id, saved_by=42) is True
    clock.now += 60
    async with db.transaction() as conn:
        assert await poems.save(conn, poem.id, saved_by=43) is False  # already saved: first saver stays
        saved = await poems.get(conn, poem.id)
    assert saved.saved and saved.saved_by == 42 and saved.saved_at == 1_800_000_000.0
    async with db.transaction() as conn:
        assert await poems.unsave(conn, poem.id) is True
        assert await poems.unsave(conn, poem.id) is False
        unsaved = await poems.get(conn, poem.id)
    assert not unsaved.saved and unsaved.saved_by is None


async def test_save_of_a_missing_poem_is_false(db: Database) -> None:
    async with db.transaction() as conn:
        assert await poems.save(conn, 12345, saved_by=1) is False
        assert await poems.unsave(conn, 12345) is False


async def test_anthology_pages_newest_saved_first(db: Database, clock: FakeClock) -> None:
    made = [await make(db, topic=f"topic {i}") for i in range(7)]
    other_guild = await make(db, guild_id=2)
    never_saved = await make(db)
    # Save out of creation order; two share a timestamp (then the higher id comes first).
    save_times = {made[3].id: 100.0, made[0].id: 200.0, made[5].id: 300.0, made[1].id: 300.0, made[6].id: 50.0}
    async with db.transaction() as conn:
        for poem_id, at in save_times.items():
            clock.now = at
            assert await poems.save(conn, poem_id, saved_by=1)
        await poems.save(conn, other_guild.id, saved_by=1)
    expected = [made[5].id, made[1].id, made[0].id, made[3].id, made[6].id]
    async with db.read() as conn:
        assert await poems.anthology_size(conn, 1) == 5
        assert await poems.anthology_size(conn, 2) == 1
        assert await poems.anthology_size(conn, 3) == 0
        pages = [[p.id for p in await poems.anthology(conn, 1, limit=2, offset=offset)] for offset in (0, 2, 4, 6)]
        everything = await poems.anthology(conn, 1, limit=100)
    assert pages == [expected[0:2], expected[2:4], expected[4:5], []]
    assert [p.id for p in everything] == expected
    assert never_saved.id not in {p.id for p in everything}
    assert all(p.saved and p.guild_id == 1 for p in everything)
