"""Fixtures: a fake Discord with a small world, and the self-test bot running against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from fakediscord import Channel, FakeDiscord, Guild, Role, User
from fakediscord.permissions import MANAGE_GUILD

from .selftest_bot import SelfTestBot


@dataclass
class World:
    alice: User
    bob: User
    guild: Guild
    chan: Channel
    storyteller: Role


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    # The event loop is shared by the whole session, so only tasks born during this test are ours.
    before = set(asyncio.all_tasks())
    async with FakeDiscord() as fake:
        yield fake
    # discord.py's close() leaves its ready-delay task to finish on its own (<= guild_ready_timeout
    # plus chunking); give such tasks a moment, then anything still running is a leak.
    others = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    if others:
        await asyncio.wait(others, timeout=1.0)
    leftovers = [t for t in others if not t.done()]
    assert not leftovers, f"tasks left running after the bot and the fake closed: {leftovers}"


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    guild = fake.add_guild("Test Guild", owner=alice)
    storyteller = fake.add_role(guild, "Storyteller", permissions=MANAGE_GUILD)
    fake.add_member(guild, bob, roles=[storyteller])
    chan = fake.add_channel(guild, "general")
    return World(alice, bob, guild, chan, storyteller)


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, guild: Guild) -> AsyncIterator[SelfTestBot]:
    """Start the bot, wait until it is ready with commands synced; close it cleanly afterwards."""
    bot = SelfTestBot(guild.id)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_ready()
        await fake.wait_commands_synced()
        await fake.wait_commands_synced(guild)
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        yield bot
    finally:
        await bot.close()
        await task
        assert bot.http._HTTPClient__session.closed  # type: ignore[attr-defined]


@pytest.fixture
async def bot(fake: FakeDiscord, world: World) -> AsyncIterator[SelfTestBot]:
    async with running_bot(fake, world.guild) as bot:
        yield bot
