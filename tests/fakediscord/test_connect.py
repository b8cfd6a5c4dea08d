"""The real client logs in, connects, builds its cache and registers commands against the fake."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from fakediscord import FakeDiscord

from .conftest import World
from .selftest_bot import SelfTestBot


async def test_bot_sees_the_world(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Test Guild"
    assert guild.owner_id == world.alice.id
    channel = guild.get_channel(world.chan.id)
    assert isinstance(channel, discord.TextChannel) and channel.name == "general"
    assert guild.me is not None and guild.me.guild_permissions.manage_webhooks
    bob = guild.get_member(world.bob.id)
    assert bob is not None and [r.name for r in bob.roles] == ["@everyone", "Storyteller"]
    assert bot.user is not None and bot.user.id == fake.bot.id
    # Every request carried the bot token; nothing hit an unknown route.
    assert fake.requests and all(r.headers.get("Authorization") == f"Bot {fake.token}" for r in fake.requests)
    assert fake.unknown_routes == []


async def test_commands_registered_with_options(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    global_names = sorted(c.name for c in fake.commands.registered(None))
    assert global_names == ["echo", "npc", "slow", "twice"]
    (story,) = fake.commands.registered(world.guild.id)
    start = next(o for o in story.options if o["name"] == "start")
    options = {o["name"]: o for o in start["options"]}
    assert [c["value"] for c in options["genre"]["choices"]] == ["fantasy", "noir"]
    assert (options["rounds"]["min_value"], options["rounds"]["max_value"]) == (1, 10)
    admin = next(o for o in story.options if o["name"] == "admin")
    assert admin["type"] == 2 and admin["options"][0]["name"] == "reset"
    # The ids the fake assigned are what discord.py got back from sync().
    fetched = await bot.tree.fetch_commands(guild=discord.Object(world.guild.id))
    assert [c.id for c in fetched] == [story.id]


async def test_a_wrong_token_is_refused(fake: FakeDiscord, world: World) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.requests[-1].status == 401


async def test_unknown_routes_are_404_json_and_recorded(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    with pytest.raises(discord.NotFound) as info:
        await bot.http.request(discord.http.Route("GET", "/no/such/route"))
    assert info.value.text == "404: Not Found"
    assert [r.path for r in fake.unknown_routes] == ["/no/such/route"]


async def test_json_content_type_is_exact(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{fake.api_url}/gateway") as response:
        assert response.headers["Content-Type"] == "application/json"
        assert (await response.json())["url"].startswith("ws://127.0.0.1:")
