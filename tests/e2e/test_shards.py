"""Sharding (issue 14): SHARD_COUNT=2 runs discord.py's AutoShardedBot; each shard serves its own servers
against the loopback Discord (which routes each guild's events to its shard's connection only), and all
of them share one SQLite file. Through `run_bot` (what `python -m bot` runs), the real engine behind it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from bot.__main__ import run_bot
from bot.app import ShardedTaleweaver, Taleweaver
from bot.settings import Settings
from fakediscord import Channel, FakeDiscord, Message, User
from fakediscord.interactions import FakeInteraction
from tests.support.engine_proc import EngineProcess

WAIT_S = 60.0  # the bot identifies its shards 5 s apart (discord.py's identify rate limit)


@asynccontextmanager
async def running(
    fake: FakeDiscord, engine: EngineProcess, db_path: Path, shard_count: int | Literal["auto"], shards: int
) -> AsyncIterator[Taleweaver]:
    settings = Settings(
        discord_token=fake.token, database_path=db_path, engine_url=engine.url, shard_count=shard_count
    )  # no DEV_GUILD_ID: global commands, as a bot in many servers has
    bots: list[Taleweaver] = []
    task = asyncio.create_task(run_bot(settings, on_bot=bots.append, guild_ready_timeout=0.05))
    try:
        await fake.wait_ready(timeout=WAIT_S, shards=shards)
        await fake.wait_commands_synced(None, timeout=WAIT_S)
        await asyncio.wait_for(bots[0].wait_until_ready(), WAIT_S)
        yield bots[0]
    finally:
        if bots:
            await bots[0].close()
        await task


def shard_that_got(fake: FakeDiscord, ix: FakeInteraction) -> list[tuple[int, int]]:
    """(shard id, count) of every gateway session the interaction was dispatched to."""
    sessions = {d.session_id for d in fake.dispatches_of("INTERACTION_CREATE") if d.data["id"] == str(ix.id)}
    return [fake.gateway.sessions[s].shard for s in sessions if s in fake.gateway.sessions]


async def open_lobby(fake: FakeDiscord, user: User, channel: Channel, title: str) -> tuple[FakeInteraction, Message]:
    ix = await fake.invoke(user, channel, "story start", title=title, genre="fable", premise="A quiet harbour.")
    return ix, await ix.wait_original(timeout=WAIT_S)


async def test_two_shards_each_serve_their_own_servers_on_one_database(
    fake: FakeDiscord, engine: EngineProcess, tmp_path: Path
) -> None:
    mod, alice = fake.add_user("mod"), fake.add_user("alice")
    north = fake.add_guild("North", owner=mod, shard=(0, 2))
    south = fake.add_guild("South", owner=mod, shard=(1, 2))
    fake.add_member(south, alice)
    north_chan, south_chan = fake.add_channel(north, "harbour"), fake.add_channel(south, "harbour")
    db_path = tmp_path / "shared.db"
    async with running(fake, engine, db_path, 2, shards=2) as bot:
        assert isinstance(bot, ShardedTaleweaver)
        assert bot.shard_count == 2 and set(bot.shards) == {0, 1}
        assert [bot.get_guild(g.id).shard_id for g in (north, south)] == [0, 1]  # type: ignore[union-attr]

        north_ix, north_lobby = await open_lobby(fake, mod, north_chan, "North Light")
        south_ix, south_lobby = await open_lobby(fake, mod, south_chan, "South Light")
        assert "North Light" in north_lobby.text and "South Light" in south_lobby.text
        assert shard_that_got(fake, north_ix) == [(0, 2)] and shard_that_got(fake, south_ix) == [(1, 2)]
        join = await fake.click(alice, fake.message_by_id[south_lobby.id], label="Join")
        await join.wait_acknowledged(timeout=WAIT_S)
        assert shard_that_got(fake, join) == [(1, 2)]
        help_ix = await fake.invoke(alice, south_chan, "help")
        await help_ix.wait_acknowledged(timeout=WAIT_S)
        assert "Page 1 of" in str(help_ix.response_data) and help_ix.ephemeral
        status = await fake.invoke(mod, north_chan, "status")  # the engine, from shard 0
        shown = (await status.wait_original(timeout=WAIT_S)).text
        assert "SmolLM2" in shown and "unreachable" not in shown and "id 0 of 2 shards" in shown
        status = await fake.invoke(alice, south_chan, "status")
        assert "id 1 of 2 shards" in (await status.wait_original(timeout=WAIT_S)).text

    # Both shards wrote into the one file.
    conn = sqlite3.connect(db_path)
    try:
        stories = dict(conn.execute("SELECT guild_id, title FROM stories").fetchall())
        players = conn.execute(
            "SELECT user_id FROM story_players JOIN stories ON stories.id = story_id WHERE guild_id = ?", (south.id,)
        ).fetchall()
    finally:
        conn.close()
    assert stories == {north.id: "North Light", south.id: "South Light"}
    assert (alice.id,) in players


async def test_auto_takes_discords_recommendation(fake: FakeDiscord, engine: EngineProcess, tmp_path: Path) -> None:
    fake.recommended_shards = 2
    mod = fake.add_user("mod")
    guilds = [fake.add_guild(f"G{n}", owner=mod, shard=(n, 2)) for n in range(2)]
    async with running(fake, engine, tmp_path / "auto.db", "auto", shards=2) as bot:
        assert isinstance(bot, ShardedTaleweaver) and bot.shard_count == 2
        assert [bot.get_guild(g.id).shard_id for g in guilds] == [0, 1]  # type: ignore[union-attr]
    assert fake.requests_matching("GET", "/gateway/bot")
