"""Channel messages, Discord's limits, mentions, rate limits, webhooks, threads and reactions."""

from __future__ import annotations

import time
from typing import Any

import discord
import pytest

from fakediscord import FakeDiscord

from .conftest import World
from .selftest_bot import NPC_AVATAR, SelfTestBot


def _channel(bot: SelfTestBot, world: World) -> discord.TextChannel:
    channel = bot.get_channel(world.chan.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_content_over_2000_characters_is_rejected(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    channel = _channel(bot, world)
    await channel.send("x" * 2000)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001)
    assert info.value.status == 400 and info.value.code == 50035
    assert "In content: Must be 2000 or fewer in length." in str(info.value)
    assert [len(m.content) for m in fake.messages(world.chan)] == [2000]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"embeds": [{"description": "d"}] * 11}, 50035),
        ({"embeds": [{"description": "d" * 4097}]}, 50035),
        (
            {"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "c"}]}] * 6},
            50035,
        ),
        (
            {
                "components": [
                    {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": f"c{i}"} for i in range(6)]}
                ]
            },
            50035,
        ),
        ({"content": "", "embeds": []}, 50006),
        ({"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}, 50035),
    ],
)
async def test_discord_limits(
    fake: FakeDiscord, world: World, bot: SelfTestBot, payload: dict[str, Any], code: int
) -> None:
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=world.chan.id)
    with pytest.raises(discord.HTTPException) as info:
        await bot.http.request(route, json=payload)
    assert (info.value.status, info.value.code) == (400, code)
    assert fake.messages(world.chan) == []


async def test_everyone_pings_unless_mentions_are_disabled(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    channel = _channel(bot, world)
    loud = await channel.send(f"@everyone {world.storyteller.mention} <@{world.bob.id}> hear this")
    quiet = await channel.send("@everyone hush", allowed_mentions=discord.AllowedMentions.none())
    only_bob = await channel.send(
        f"@everyone <@{world.bob.id}> <@{world.alice.id}>",
        allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(world.bob.id)]),
    )
    loud_m, quiet_m, bob_m = (fake.message_by_id[m.id] for m in (loud, quiet, only_bob))
    assert loud_m.allowed_mentions is None
    assert loud_m.pinged_everyone and loud_m.pinged_roles == {world.storyteller.id}
    assert loud_m.pinged_users == {world.bob.id}
    assert quiet_m.allowed_mentions == {"parse": []}
    assert not quiet_m.pinged_everyone and not quiet_m.pinged_users and not quiet_m.pinged_roles
    assert bob_m.pinged_users == {world.bob.id} and not bob_m.pinged_everyone
    assert loud.mention_everyone and not quiet.mention_everyone  # what discord.py parsed back


async def test_429_is_retried_by_discord_py(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    fault = fake.fail_next("POST", "/channels/{channel_id}/messages", status=429, retry_after=0.25)
    started = time.monotonic()
    sent = await _channel(bot, world).send("after the rate limit")
    assert time.monotonic() - started >= 0.25
    assert fault.hits == 1
    posts = fake.requests_matching("POST", "/channels/{channel_id}/messages")
    assert [r.status for r in posts] == [429, 200]
    assert fake.messages(world.chan)[-1].id == sent.id


async def test_500_is_retried_and_other_errors_surface(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    fake.fail_next("POST", "/channels/{channel_id}/messages", status=500)
    await _channel(bot, world).send("eventually")  # discord.py waits 1 s and retries a 500
    fake.fail_next("POST", "/channels/{channel_id}/messages", status=403, code=50013, message="Missing Permissions")
    with pytest.raises(discord.Forbidden):
        await _channel(bot, world).send("never")
    assert [m.content for m in fake.messages(world.chan)] == ["eventually"]


async def test_npc_speaks_through_a_webhook(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    for line in ("Welcome, travellers.", "Mind the fog."):
        ix = await fake.invoke(world.alice, world.chan, "npc say", name="Old Marta", text=line)
        assert (await ix.wait_original()).content == "spoken"
    said = [m for m in fake.messages(world.chan) if m.webhook_id is not None and m.interaction_id is None]
    assert [(m.username, m.content, m.avatar_url) for m in said] == [
        ("Old Marta", "Welcome, travellers.", NPC_AVATAR),
        ("Old Marta", "Mind the fog.", NPC_AVATAR),
    ]
    assert len([w for w in fake.webhooks.values() if w.channel_id == world.chan.id]) == 1  # reused
    assert fake.requests_matching("POST", "/webhooks/{id}/{token}")[0].query["wait"] == "1"


async def test_webhook_names_with_discord_are_refused(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    hook = await _channel(bot, world).create_webhook(name="npcs")
    with pytest.raises(discord.HTTPException) as info:
        await hook.send("hi", username="Discord Marta")
    assert info.value.code == 50035


async def test_thread_message_and_reaction(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.alice, world.chan, "story thread", name="side")
    note = await ix.wait_original()
    assert note.ephemeral and note.content.startswith("opened <#")
    threads = [c for c in world.guild.channels.values() if c.is_thread]
    side, from_message = threads
    assert (side.name, side.parent_id, from_message.name) == ("side", world.chan.id, "side-from-message")
    (first,) = fake.messages(side)
    assert first.content == "The side story begins." and first.reactions == {"👍": [fake.bot.id]}
    anchor = fake.message_by_id[from_message.id]  # a thread started from a message takes its id
    assert anchor.content == "anchor" and anchor.thread_id == from_message.id
    assert [d.event for d in fake.dispatches if d.event == "THREAD_CREATE"] == ["THREAD_CREATE"] * 2


async def test_user_posts_and_reacts(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    msg = await fake.post_message(world.alice, world.chan, f"hello {fake.bot.mention}")
    await fake.add_reaction(world.bob, msg, "🔥")
    await fake.wait_for(lambda: len(bot.events) >= 2)
    (kind, seen), (kind2, raw) = bot.events[:2]
    assert kind == "message" and seen.content == f"hello {fake.bot.mention}" and seen.author.id == world.alice.id
    assert kind2 == "reaction" and raw.user_id == world.bob.id and str(raw.emoji) == "🔥"
    assert msg.pinged_users == {fake.bot.id}


async def test_bot_edits_keep_history(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    sent = await _channel(bot, world).send("draft", allowed_mentions=discord.AllowedMentions.none())
    await sent.edit(content="draft, longer")
    await sent.edit(content="final")
    msg = fake.message_by_id[sent.id]
    assert [v.content for v in msg.history] == ["draft", "draft, longer", "final"]
    assert len(msg.edits) == 2 and msg.edited_at is not None
    assert [d.event for d in fake.dispatches if d.data.get("id") == str(sent.id)] == ["MESSAGE_CREATE"] + [
        "MESSAGE_UPDATE"
    ] * 2
