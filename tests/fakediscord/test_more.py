"""Smaller surfaces: DMs, history paging, delays, permissions in interactions, threads and webhooks."""

from __future__ import annotations

import asyncio
import time

import discord
import pytest

from fakediscord import ChannelType, FakeDiscord
from fakediscord.permissions import MANAGE_ROLES, SEND_MESSAGES

from .conftest import World
from .selftest_bot import SelfTestBot


async def test_dm_command_and_dm_message(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    dm = fake.dm_channel(world.alice)
    ix = await fake.invoke(world.alice, dm, "echo", text="psst")
    assert (await ix.wait_original()).content == "psst"
    user = await bot.fetch_user(world.alice.id)
    await user.send("your turn", allowed_mentions=discord.AllowedMentions.none())
    assert [m.content for m in fake.messages(dm)] == ["psst", "your turn"]
    assert fake.dm_channel(world.alice) is dm


async def test_history_paging(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    posted = [await fake.post_message(world.alice, world.chan, f"line {i}") for i in range(120)]
    channel = bot.get_channel(world.chan.id)
    assert isinstance(channel, discord.TextChannel)
    seen = [m.content async for m in channel.history(limit=None, oldest_first=True)]
    assert seen == [m.content for m in posted]
    newest = [m.content async for m in channel.history(limit=3, before=discord.Object(posted[10].id))]
    assert newest == ["line 9", "line 8", "line 7"]


async def test_delay_route_holds_requests(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    delay = fake.delay_route("PATCH", "/webhooks/", 0.3)
    ix = await fake.invoke(world.alice, world.chan, "story start", title="Slow", genre="noir")
    started = time.monotonic()
    await ix.wait_original()
    assert time.monotonic() - started >= 0.3 and delay.hits == 1
    assert ix.ack_latency is not None and ix.ack_latency < 0.3  # the defer itself was not delayed


async def test_interaction_carries_resolved_permissions(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    fake.set_overwrite(world.chan, world.storyteller, deny=SEND_MESSAGES)
    ix = await fake.invoke(world.bob, world.chan, "echo", text="x")
    await ix.wait_acknowledged()
    (event,) = [d.data for d in fake.dispatches_of("INTERACTION_CREATE") if d.data["id"] == str(ix.id)]
    perms = discord.Permissions(int(event["member"]["permissions"]))
    assert perms.manage_guild and not perms.send_messages
    assert discord.Permissions(int(event["app_permissions"])).manage_webhooks
    assert event["data"]["name"] == "echo" and event["attachment_size_limit"] > 0


async def test_bot_without_permission_gets_403(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    fake.set_overwrite(world.chan, fake.bot_role(world.guild), deny=SEND_MESSAGES)
    await fake.wait_for(lambda: fake.dispatches_of("CHANNEL_UPDATE"))
    channel = bot.get_channel(world.chan.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("hello")
    assert info.value.code == 50013


async def test_webhook_into_thread_and_forum_post(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    thread_model = fake.add_thread(world.chan, "npc corner", owner=world.alice)
    forum_model = fake.add_channel(world.guild, "tales", forum=True)
    await fake.wait_for(lambda: bot.get_channel(forum_model.id) is not None)
    channel, forum = bot.get_channel(world.chan.id), bot.get_channel(forum_model.id)
    assert isinstance(channel, discord.TextChannel) and isinstance(forum, discord.ForumChannel)
    thread = channel.get_thread(thread_model.id)
    assert thread is not None
    hook = await channel.create_webhook(name="npcs")
    sent = await hook.send("in the thread", username="Brother Quill", thread=thread, wait=True)
    await sent.edit(content="edited in the thread")
    msg = fake.message_by_id[sent.id]
    assert (msg.channel_id, msg.content, msg.username) == (thread.id, "edited in the thread", "Brother Quill")
    post = await forum.create_thread(name="A tale", content="Chapter one")
    assert post.message.content == "Chapter one" and post.thread.id == post.message.id
    assert fake.channels[post.thread.id].type == ChannelType.PUBLIC_THREAD


async def test_wait_for_timeout_explains_itself(fake: FakeDiscord, world: World) -> None:
    await fake.post_message(world.alice, world.chan, "nobody answers")
    with pytest.raises(TimeoutError) as info:
        await fake.wait_for(lambda: len(fake.messages(world.chan)) > 1, timeout=0.05, channel=world.chan)
    text = str(info.value)
    assert "len(fake.messages(world.chan)) > 1" in text and "alice: 'nobody answers'" in text
    await asyncio.sleep(0)


async def test_bot_assigns_roles_below_its_own(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    alice = guild.get_member(world.alice.id)
    storyteller = guild.get_role(world.storyteller.id)
    assert alice is not None and storyteller is not None
    with pytest.raises(discord.Forbidden):  # the default bot role lacks MANAGE_ROLES
        await alice.add_roles(storyteller)
    fake.bot_role(world.guild).permissions |= MANAGE_ROLES
    await alice.add_roles(storyteller)
    assert fake.member(world.guild, world.alice).role_ids == [world.storyteller.id]
    await fake.wait_for(lambda: storyteller in alice.roles)
    fake.bot_role(world.guild).position = 0  # now the bot's role is the lowest
    with pytest.raises(discord.Forbidden):
        await alice.remove_roles(storyteller)
