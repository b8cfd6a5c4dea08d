"""storage.stories, storage.turns, storage.votes, storage.lore: the story-rounds repositories on a real file."""

from __future__ import annotations

import sqlite3

import pytest

from storage import lore, stories, turns, votes
from storage.db import Database

NOW = 1_700_000_000.0


async def make_story(db: Database, channel_id: int = 10, **fields: object) -> stories.Story:
    values = {
        "guild_id": 1, "channel_id": channel_id, "starter_id": 7, "title": "The Salt Road", "genre": "fantasy",
        "premise": "A caravan crosses the salt flats.", "mode": "round-robin", "turn_timeout": 0, "max_rounds": 0,
        "narrate_every": 3, "choices": 0, "now": NOW,
    } | fields  # fmt: skip
    async with db.transaction() as conn:
        return await stories.create(conn, **values)  # type: ignore[arg-type]


async def add_turn(
    db: Database, story_id: int, text: str = "words", *, kind: str = "player", author: int | None = 7, rnd: int = 1
) -> turns.Turn:
    async with db.transaction() as conn:
        return await turns.add(
            conn, story_id, round=rnd, kind=kind, author_id=author, text=text, tokens=len(text.split()) * 2,
            words=len(text.split()), now=NOW,
        )  # fmt: skip


# --- stories ----------------------------------------------------------------------------------------


async def test_create_stores_every_option_with_lobby_defaults(db: Database) -> None:
    story = await make_story(db, mode="free", turn_timeout=90, max_rounds=5, narrate_every=2, choices=3)
    assert (story.phase, story.paused, story.round, story.deadline) == ("lobby", False, 0, None)
    assert (story.mode, story.turn_timeout, story.max_rounds, story.narrate_every, story.choices) == (
        "free", 90, 5, 2, 3,
    )  # fmt: skip
    assert (story.author_note, story.summary, story.summary_upto, story.ended_at) == ("", "", 0, None)
    assert not story.round_robin
    async with db.read() as conn:
        assert await stories.get(conn, story.id) == story
        assert await stories.get(conn, story.id + 99) is None


async def test_one_open_story_per_channel_is_enforced_by_the_database(db: Database) -> None:
    first = await make_story(db, channel_id=10)
    await make_story(db, channel_id=11)  # another channel is independent
    with pytest.raises(sqlite3.IntegrityError):
        await make_story(db, channel_id=10)
    async with db.transaction() as conn:
        await stories.update(conn, first.id, phase="ended", ended_at=NOW + 5)
    second = await make_story(db, channel_id=10)  # the partial index only covers open stories
    with pytest.raises(sqlite3.IntegrityError):
        await make_story(db, channel_id=10)
    async with db.read() as conn:
        assert (await stories.open_in_channel(conn, 10)).id == second.id
        assert (await stories.latest_in_channel(conn, 10)).id == second.id
        assert [s.channel_id for s in await stories.all_open(conn)] == [11, 10]


async def test_latest_in_channel_prefers_the_open_story_then_the_newest_ended(db: Database) -> None:
    old = await make_story(db)
    async with db.transaction() as conn:
        await stories.update(conn, old.id, phase="ended")
    newer = await make_story(db)
    async with db.transaction() as conn:
        await stories.update(conn, newer.id, phase="ended")
        assert (await stories.latest_in_channel(conn, 10)).id == newer.id
        assert await stories.open_in_channel(conn, 10) is None
        assert await stories.latest_in_channel(conn, 99) is None


async def test_update_changes_only_updatable_columns(db: Database) -> None:
    story = await make_story(db)
    async with db.transaction() as conn:
        changed = await stories.update(conn, story.id, phase="turns", round=2, deadline=NOW + 60.25, paused=True)
        assert (changed.phase, changed.round, changed.deadline, changed.paused) == ("turns", 2, NOW + 60.25, True)
        with pytest.raises(ValueError, match="title"):
            await stories.update(conn, story.id, title="renamed")
        assert await stories.update(conn, story.id) == changed  # nothing to change: the row as it is


async def test_phase_is_checked_by_the_schema(db: Database) -> None:
    story = await make_story(db)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await stories.update(conn, story.id, phase="napping")


async def test_players_keep_join_order_and_a_returning_player_goes_last(db: Database) -> None:
    story = await make_story(db)
    async with db.transaction() as conn:
        for user, name in ((1, "Ada"), (2, "Bo"), (3, "Cy")):
            await stories.join(conn, story.id, user, name, NOW + user)
        assert [p.name for p in await stories.players(conn, story.id)] == ["Ada", "Bo", "Cy"]
        assert await stories.leave(conn, story.id, 1, NOW + 10) is True
        assert await stories.leave(conn, story.id, 1, NOW + 11) is False  # already gone
        assert [p.user_id for p in await stories.players(conn, story.id)] == [2, 3]
        everyone = await stories.players(conn, story.id, active_only=False)
        assert [(p.user_id, p.active) for p in everyone] == [(1, False), (2, True), (3, True)]
        back = await stories.join(conn, story.id, 1, "Ada", NOW + 20)
        assert back.active and back.joined_at == NOW + 20
        assert [p.user_id for p in await stories.players(conn, story.id)] == [2, 3, 1]
        other = await make_story(db, channel_id=11)
        assert (await stories.join(conn, other.id, 1, "Ada", NOW)).position == 1  # positions are per story


async def test_only_an_active_player_is_renamed(db: Database) -> None:
    story = await make_story(db)
    async with db.transaction() as conn:
        await stories.join(conn, story.id, 1, "Ada", NOW)
        await stories.join(conn, story.id, 2, "Bo", NOW)
        renamed = await stories.rename(conn, story.id, 1, "Mira")
        assert renamed is not None and (renamed.name, renamed.position) == ("Mira", 1)
        assert await stories.rename(conn, story.id, 3, "Nobody") is None
        await stories.leave(conn, story.id, 2, NOW + 1)
        assert await stories.rename(conn, story.id, 2, "Gone") is None
        assert [p.name for p in await stories.players(conn, story.id, active_only=False)] == ["Mira", "Bo"]


async def test_pins_are_per_story_and_removed_only_from_their_story(db: Database) -> None:
    story, other = await make_story(db), await make_story(db, channel_id=11)
    async with db.transaction() as conn:
        first = await stories.add_pin(conn, story.id, 7, "The moon is green.", NOW)
        await stories.add_pin(conn, story.id, 7, "Dragons fear salt.", NOW)
        await stories.add_pin(conn, other.id, 7, "Elsewhere.", NOW)
        assert [p.text for p in await stories.pins(conn, story.id)] == ["The moon is green.", "Dragons fear salt."]
        assert await stories.remove_pin(conn, other.id, first.id) is None
        assert await stories.remove_pin(conn, story.id, first.id) == first
        assert await stories.remove_pin(conn, story.id, first.id) is None
        assert [p.text for p in await stories.pins(conn, story.id)] == ["Dragons fear salt."]


# --- turns ------------------------------------------------------------------------------------------


async def test_seq_numbers_count_per_story_and_continue_after_the_last(db: Database) -> None:
    story, other = await make_story(db), await make_story(db, channel_id=11)
    seqs = [(await add_turn(db, story.id)).seq for _ in range(3)]
    assert seqs == [1, 2, 3]
    assert (await add_turn(db, other.id)).seq == 1
    async with db.transaction() as conn:
        last = await turns.last(conn, story.id)
        assert last is not None and last.seq == 3
        await turns.delete(conn, last.id)  # undo
    assert (await add_turn(db, story.id)).seq == 3


async def test_two_turns_cannot_share_a_seq(db: Database) -> None:
    story = await make_story(db)
    await add_turn(db, story.id)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO story_turns (story_id, seq, round, kind, text, created_at)"
                " VALUES (?, 1, 1, 'player', '', 0)",
                (story.id,),
            )


async def test_recent_is_bounded_ordered_and_skips_skips(db: Database) -> None:
    story = await make_story(db)
    for i in range(1, 31):
        await add_turn(db, story.id, f"turn {i}", kind="skip" if i % 5 == 0 else "player")
    async with db.read() as conn:
        newest = await turns.recent(conn, story.id, limit=4)
        assert [t.text for t in newest] == ["turn 26", "turn 27", "turn 28", "turn 29"]
        after = await turns.recent(conn, story.id, limit=100, after_seq=22)
        assert [t.seq for t in after] == [23, 24, 26, 27, 28, 29]
        assert len(await turns.recent(conn, story.id, limit=100)) == 24
        assert await turns.recent(conn, story.id, limit=10, after_seq=30) == []
        oldest = await turns.oldest(conn, story.id, after_seq=3, upto_seq=11, limit=100)
        assert [t.seq for t in oldest] == [4, 6, 7, 8, 9, 11]
        assert [t.seq for t in await turns.oldest(conn, story.id, after_seq=3, upto_seq=11, limit=2)] == [4, 6]
        assert [t.seq for t in await turns.all_of(conn, story.id)] == list(range(1, 31))


async def test_recent_reads_through_an_index(db: Database) -> None:
    async with (
        db.read() as conn,
        conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM story_turns WHERE story_id = ? AND seq > ? AND kind <> 'skip'"
            " ORDER BY seq DESC LIMIT ?",
            (1, 0, 10),
        ) as cur,
    ):
        plan = " ".join(str(row[3]) for row in await cur.fetchall())
    assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan


async def test_in_round_edit_stats_and_unsummarized_tokens(db: Database) -> None:
    story = await make_story(db)
    await add_turn(db, story.id, "the opening scene", kind="narrator", author=None, rnd=0)
    mine = await add_turn(db, story.id, "I draw my sword", author=1)
    await add_turn(db, story.id, "", kind="skip", author=2)
    await add_turn(db, story.id, "I run away fast", author=3)
    await add_turn(db, story.id, "again", author=1, rnd=2)
    async with db.transaction() as conn:
        assert [t.author_id for t in await turns.in_round(conn, story.id, 1)] == [1, 2, 3]
        await turns.edit(conn, mine.id, "I draw my long sword slowly", 12, 6, NOW + 9)
        edited = (await turns.in_round(conn, story.id, 1))[0]
        assert (edited.text, edited.tokens, edited.words, edited.edited_at) == (
            "I draw my long sword slowly", 12, 6, NOW + 9,
        )  # fmt: skip
        stats = await turns.stats(conn, story.id)
        assert stats.turns == 4  # the skip does not count
        assert stats.words == 3 + 6 + 4 + 1
        assert stats.by_author == {1: 2, 3: 1}
        assert await turns.unsummarized_tokens(conn, story.id, 0) == 6 + 12 + 0 + 8 + 2
        assert await turns.unsummarized_tokens(conn, story.id, 3) == 8 + 2
        empty = await make_story(db, channel_id=12)
        assert await turns.stats(conn, empty.id) == turns.TurnStats(0, 0, {})


async def test_deleting_a_story_deletes_its_turns(db: Database) -> None:
    story = await make_story(db)
    await add_turn(db, story.id)
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM stories WHERE id = ?", (story.id,))
        assert await turns.all_of(conn, story.id) == []


# --- votes ------------------------------------------------------------------------------------------


async def test_vote_round_trip_and_ballot_upsert(db: Database) -> None:
    story = await make_story(db)
    options = ["The door opens. ✨", "Le pont s’effondre.", "嵐が来る。"]
    async with db.transaction() as conn:
        vote = await votes.create(conn, story.id, 3, options, NOW + 120, NOW)
        assert (vote.options, vote.round, vote.deadline, vote.closed_at, vote.winner, vote.created_at) == (
            tuple(options), 3, NOW + 120, None, None, NOW,
        )  # fmt: skip
        assert await votes.get(conn, vote.id) == vote
        assert await votes.open_for(conn, story.id) == vote
        await votes.set_message(conn, vote.id, 555)
        await votes.set_deadline(conn, vote.id, NOW + 300)
        await votes.cast(conn, vote.id, 1, 0, NOW)
        await votes.cast(conn, vote.id, 2, 2, NOW)
        await votes.cast(conn, vote.id, 1, 1, NOW + 1)  # changed their mind: still one ballot
        assert await votes.ballots(conn, vote.id) == {1: 1, 2: 2}
        await votes.close(conn, vote.id, 1, NOW + 5)
        closed = await votes.get(conn, vote.id)
        assert (closed.message_id, closed.deadline, closed.closed_at, closed.winner) == (555, NOW + 300, NOW + 5, 1)
        assert await votes.open_for(conn, story.id) is None
        assert await votes.get(conn, vote.id + 1) is None


async def test_open_for_returns_the_newest_open_vote(db: Database) -> None:
    story = await make_story(db)
    async with db.transaction() as conn:
        first = await votes.create(conn, story.id, 1, ["a", "b"], NOW, NOW)
        await votes.close(conn, first.id, None, NOW)
        second = await votes.create(conn, story.id, 1, ["c", "d"], NOW, NOW)
        assert (await votes.open_for(conn, story.id)).id == second.id


# --- lore -------------------------------------------------------------------------------------------


async def add_lore(db: Database, channel_id: int, content: str, priority: int = 100) -> lore.LoreEntry:
    async with db.transaction() as conn:
        return await lore.add(
            conn, guild_id=1, channel_id=channel_id, keys=["dragon", "ëmber"], content=content, priority=priority,
            author_id=7, now=NOW,
        )  # fmt: skip


async def test_lore_is_per_channel_in_priority_then_insertion_order(db: Database) -> None:
    a = await add_lore(db, 10, "a", priority=100)
    b = await add_lore(db, 10, "b", priority=5)
    c = await add_lore(db, 10, "c", priority=100)
    await add_lore(db, 11, "elsewhere")
    assert a.keys == ("dragon", "ëmber")
    async with db.read() as conn:
        assert [e.id for e in await lore.for_channel(conn, 10)] == [b.id, a.id, c.id]
        assert await lore.count(conn, 10) == 3
        assert await lore.count(conn, 12) == 0


async def test_lore_remove_returns_the_deleted_entry_once(db: Database) -> None:
    entry = await add_lore(db, 10, "the dragon sleeps")
    async with db.transaction() as conn:
        assert await lore.remove(conn, 11, entry.id) is None  # not that channel's entry
        assert await lore.remove(conn, 10, entry.id) == entry
        assert await lore.remove(conn, 10, entry.id) is None
        assert await lore.count(conn, 10) == 0
