"""Sharding: IDENTIFY's shard field, each shard's own guilds and events, /gateway/bot's recommendation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import discord

from fakediscord import FakeDiscord
from fakediscord.ids import shard_of


class ShardedClient(discord.AutoShardedClient):
    """A bare sharded client recording every message it is told about, with the shard that told it."""

    def __init__(self, shard_count: int | None) -> None:
        super().__init__(intents=discord.Intents.default(), shard_count=shard_count, guild_ready_timeout=0.05)
        self.heard: list[tuple[int, int | None]] = []  # (message id, guild id)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s between shards (Discord's identify rate limit); the fake has none

    async def on_message(self, message: discord.Message) -> None:
        self.heard.append((message.id, message.guild.id if message.guild else None))


@asynccontextmanager
async def running(fake: FakeDiscord, shard_count: int | None, shards: int) -> AsyncIterator[ShardedClient]:
    client = ShardedClient(shard_count)
    task = asyncio.create_task(client.start(fake.token))
    try:
        await fake.wait_ready(shards=shards)
        await asyncio.wait_for(client.wait_until_ready(), 10)
        yield client
    finally:
        await client.close()
        await task


async def test_each_shard_gets_its_own_guilds_and_only_their_events(fake: FakeDiscord) -> None:
    alice = fake.add_user("alice")
    first = fake.add_guild("Shard Zero", owner=alice, shard=(0, 2))
    second = fake.add_guild("Shard One", owner=alice, shard=(1, 2))
    assert (shard_of(first.id, 2), shard_of(second.id, 2)) == (0, 1)
    async with running(fake, 2, shards=2) as client:
        assert client.shard_count == 2 and set(client.shards) == {0, 1}
        assert fake.gateway.ready_shards() == {(0, 2), (1, 2)}
        by_shard = {s.shard[0]: s for s in fake.gateway.sessions.values()}
        creates = {
            shard: [d.data["id"] for d in fake.dispatches_of("GUILD_CREATE") if d.session_id == s.id]
            for shard, s in by_shard.items()
        }
        assert creates == {0: [str(first.id)], 1: [str(second.id)]}
        ready = {d.session_id: d.data for d in fake.dispatches_of("READY")}
        assert ready[by_shard[1].id]["shard"] == [1, 2]
        assert [g["id"] for g in ready[by_shard[1].id]["guilds"]] == [str(second.id)]
        guild = client.get_guild(second.id)
        assert guild is not None and guild.shard_id == 1

        here = await fake.post_message(alice, fake.add_channel(first, "zero"), "on shard zero")
        there = await fake.post_message(alice, fake.add_channel(second, "one"), "on shard one")
        await fake.wait_for(lambda: len(client.heard) >= 2, what="both messages")
        await asyncio.sleep(0.1)  # a message routed to both shards would arrive twice by now
        assert sorted(client.heard) == sorted([(here.id, first.id), (there.id, second.id)])
        sent_to = {d.session_id for d in fake.dispatches_of("MESSAGE_CREATE") if d.data["id"] == str(there.id)}
        assert sent_to == {by_shard[1].id}

        # A guild added while connected reaches only the shard that serves it.
        late = fake.add_guild("Late", owner=alice, shard=(0, 2))
        await fake.wait_for(lambda: client.get_guild(late.id), what="the late guild")
        late_creates = [d.session_id for d in fake.dispatches_of("GUILD_CREATE") if d.data["id"] == str(late.id)]
        assert late_creates == [by_shard[0].id]


async def test_without_a_shard_count_the_client_takes_gateway_bots_recommendation(fake: FakeDiscord) -> None:
    fake.recommended_shards = 3
    alice = fake.add_user("alice")
    guilds = [fake.add_guild(f"G{n}", owner=alice, shard=(n, 3)) for n in range(3)]
    async with running(fake, None, shards=3) as client:
        assert client.shard_count == 3 and set(client.shards) == {0, 1, 2}
        assert [client.get_guild(g.id).shard_id for g in guilds] == [0, 1, 2]  # type: ignore[union-attr]
    assert fake.requests_matching("GET", "/gateway/bot")


async def test_an_invalid_shard_is_closed_with_4010(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.ws_url) as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": fake.token, "shard": [2, 2], "intents": 0, "properties": {}}})
        closing = await ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert ws.close_code == 4010
    assert not fake.gateway.sessions
