"""storage.npcs and storage.npc_memory: NPC cards round-trip through SQLite; scenes, webhooks, memory scoping."""

from __future__ import annotations

import pytest

from bot.npcs.model import Npc
from storage import lore, npc_memory, npcs
from storage.db import Database
from storage.npcs import ChannelWebhook, DuplicateName

MIRA = Npc(
    name="Mira",
    description="A seer of the salt marsh.",
    personality="wry, patient",
    scenario="The marsh at dusk.",
    first_mes="*Mira looks up.* You came.",
    mes_example="<START>\n{{user}}: Hi\n{{char}}: Hm.",
    system_prompt="Stay in character.",
    post_history_instructions="Answer briefly.",
    alternate_greetings=("Again?", "Sit, child."),
    tags=("seer", "marsh"),
    creator="someone",
    creator_notes="notes ✨",
    character_version="1.2",
    extensions={"depth_prompt": {"prompt": "x", "depth": 4}, "unknown_tool": [1, 2, {"a": None}]},
    extra={"future_field": {"nested": ["kept"]}},
    creator_id=42,
    avatar_url="https://example.com/mira.png",
)


async def test_every_card_field_round_trips(db: Database) -> None:
    async with db.transaction() as conn:
        saved = await npcs.insert(conn, MIRA, guild_id=7, now=100.0)
    assert saved.id > 0 and saved.guild_id == 7 and saved.created_at == saved.updated_at == 100.0
    async with db.read() as conn:
        loaded = await npcs.get(conn, saved.id)
    assert loaded is not None and loaded == saved
    assert loaded.with_changes(id=0, guild_id=0, created_at=0.0, updated_at=0.0) == MIRA


async def test_names_are_unique_per_server_casefolded(db: Database) -> None:
    async with db.transaction() as conn:
        await npcs.insert(conn, MIRA, guild_id=7, now=1.0)
        await npcs.insert(conn, MIRA, guild_id=8, now=1.0)  # another server may have its own Mira
    with pytest.raises(DuplicateName):
        async with db.transaction() as conn:
            await npcs.insert(conn, Npc(name="  MIRA "), guild_id=7, now=2.0)
    async with db.read() as conn:
        assert (await npcs.by_name(conn, 7, "mira")).description == MIRA.description  # type: ignore[union-attr]
        assert await npcs.count(conn, 7) == 1


async def test_update_and_rename_clash(db: Database) -> None:
    async with db.transaction() as conn:
        mira = await npcs.insert(conn, MIRA, guild_id=7, now=1.0)
        await npcs.insert(conn, Npc(name="Orrin"), guild_id=7, now=1.0)
        changed = await npcs.update(conn, mira.with_changes(scenario="A new dawn.", tags=("x",)), now=5.0)
    assert changed.scenario == "A new dawn." and changed.tags == ("x",) and changed.updated_at == 5.0
    with pytest.raises(DuplicateName):
        async with db.transaction() as conn:
            await npcs.update(conn, mira.with_changes(name="orrin"), now=6.0)
    async with db.read() as conn:
        assert (await npcs.get(conn, mira.id)).name == "Mira"  # type: ignore[union-attr]


async def test_autocomplete_prefix_first_and_like_wildcards_are_literal(db: Database) -> None:
    async with db.transaction() as conn:
        for name in ("Old Mira", "Mira", "Mirabel", "Orrin", "100%_sure"):
            await npcs.insert(conn, Npc(name=name), guild_id=7, now=1.0)
    async with db.read() as conn:
        assert await npcs.names_matching(conn, 7, "mir") == ["Mira", "Mirabel", "Old Mira"]
        assert await npcs.names_matching(conn, 7, "%") == ["100%_sure"]
        assert await npcs.names_matching(conn, 8, "mir") == []
        assert len(await npcs.names_matching(conn, 7, "")) == 5


async def test_delete_cascades_to_scene_memory_and_lore(db: Database) -> None:
    async with db.transaction() as conn:
        mira = await npcs.insert(conn, MIRA, guild_id=7, now=1.0)
        assert await npcs.add_to_scene(conn, 500, mira.id, added_by=1, now=1.0)
        assert not await npcs.add_to_scene(conn, 500, mira.id, added_by=1, now=2.0)  # already there
        await npc_memory.remember(
            conn, [mira.id], channel_id=500, speaker_kind="player", speaker_id=1, speaker_name="Al", text="hi",
            tokens=1, now=1.0,
        )  # fmt: skip
        await lore.add_for_npc(
            conn, guild_id=7, npc_id=mira.id, keys=["marsh"], secondary_keys=["dusk"], constant=True,
            content="The marsh remembers.", priority=10, author_id=1, now=1.0,
        )  # fmt: skip
    async with db.read() as conn:
        entry = (await lore.for_npc(conn, mira.id))[0]
        assert (entry.npc_id, entry.secondary_keys, entry.constant) == (mira.id, ("dusk",), True)
        assert await lore.for_channel(conn, 0) == [entry] and await lore.for_channel(conn, 500) == []
    async with db.transaction() as conn:
        assert await npcs.delete(conn, mira.id)
        assert not await npcs.delete(conn, mira.id)
    async with db.read() as conn:
        assert await npcs.scene(conn, 500) == []
        assert await npc_memory.recent(conn, mira.id, 500, limit=10) == []
        assert await lore.for_npc(conn, mira.id) == []


async def test_webhook_per_channel_is_replaced_and_forgotten(db: Database) -> None:
    async with db.transaction() as conn:
        await npcs.save_webhook(conn, ChannelWebhook(500, 7, 11, "t1"), now=1.0)
        await npcs.save_webhook(conn, ChannelWebhook(500, 7, 12, "t2"), now=2.0)
    async with db.read() as conn:
        assert await npcs.webhook(conn, 500) == ChannelWebhook(500, 7, 12, "t2")
        assert await npcs.webhook_ids(conn) == {12}
    async with db.transaction() as conn:
        await npcs.forget_webhook(conn, 500, 11)  # a stale id does not remove the new one
        assert await npcs.webhook(conn, 500) is not None
        await npcs.forget_webhook(conn, 500, 12)
        assert await npcs.webhook(conn, 500) is None


async def test_memory_is_scoped_to_witnesses_and_channel(db: Database) -> None:
    async with db.transaction() as conn:
        mira = await npcs.insert(conn, Npc(name="Mira"), guild_id=7, now=1.0)
        orrin = await npcs.insert(conn, Npc(name="Orrin"), guild_id=7, now=1.0)
        say = dict(speaker_kind="player", speaker_id=1, speaker_name="Al", tokens=2, now=1.0)
        await npc_memory.remember(conn, [mira.id, orrin.id], channel_id=500, text="both heard", **say)  # type: ignore[arg-type]
        await npc_memory.remember(conn, [mira.id], channel_id=500, text="only mira", **say)  # type: ignore[arg-type]
        await npc_memory.remember(conn, [orrin.id], channel_id=600, text="orrin elsewhere", **say)  # type: ignore[arg-type]
        await npc_memory.set_summary(conn, mira.id, 500, "Al arrived.", 1)
        await npc_memory.pin(conn, mira.id, 500, "Al owes Mira a coin.", author_id=1, now=1.0)
    async with db.read() as conn:
        assert [x.text for x in await npc_memory.recent(conn, mira.id, 500, limit=10)] == ["both heard", "only mira"]
        assert [x.text for x in await npc_memory.recent(conn, orrin.id, 500, limit=10)] == ["both heard"]
        assert [x.text for x in await npc_memory.recent(conn, mira.id, 600, limit=10)] == []
        assert [x.text for x in await npc_memory.recent(conn, mira.id, 500, limit=1)] == ["only mira"]
        assert await npc_memory.unsummarized_tokens(conn, mira.id, 500, 0) == 4
        assert (await npc_memory.state(conn, mira.id, 500)).summary == "Al arrived."
        assert (await npc_memory.state(conn, orrin.id, 500)).summary == ""
        assert await npc_memory.pins(conn, mira.id, 500) == ["Al owes Mira a coin."]
        assert await npc_memory.pins(conn, mira.id, 600) == []


async def test_npc_messages_and_fallback_notice_once(db: Database) -> None:
    async with db.transaction() as conn:
        mira = await npcs.insert(conn, Npc(name="Mira"), guild_id=7, now=1.0)
        await npcs.record_messages(conn, mira.id, 500, [900, 901], now=1.0)
        assert await npcs.note_fallback(conn, 7, 500, now=1.0)
        assert not await npcs.note_fallback(conn, 7, 500, now=2.0)
    async with db.read() as conn:
        assert (await npcs.author_of(conn, 901)).name == "Mira"  # type: ignore[union-attr]
        assert await npcs.author_of(conn, 902) is None
    async with db.transaction() as conn:
        await npcs.clear_fallback(conn, 500)
        assert await npcs.note_fallback(conn, 7, 500, now=3.0)
