"""Gateway behaviour: compression, heartbeats, RESUME with replay, invalid sessions."""

from __future__ import annotations

import asyncio

from fakediscord import FakeDiscord

from .conftest import World
from .selftest_bot import SelfTestBot


async def test_zlib_stream_and_heartbeat(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    (conn,) = fake.gateway.connections
    assert conn.compress  # discord.py asked for compress=zlib-stream and decoded our frames
    assert conn.heartbeats >= 1  # it heartbeats right after HELLO
    assert [d.event for d in fake.dispatches[:2]] == ["READY", "GUILD_CREATE"]


async def test_dropped_gateway_resumes_and_replays(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    (session,) = fake.gateway.sessions.values()
    drop = asyncio.create_task(fake.drop_gateway(resume=True))
    await asyncio.sleep(0)  # the connection is cut; events now wait for RESUME
    assert not fake.connected
    ix = await fake.invoke(world.alice, world.chan, "echo", text="still here")
    await drop
    assert (await ix.wait_original()).content == "still here"
    assert list(fake.gateway.sessions.values()) == [session] and session.resumes == 1
    assert fake.gateway.connections[0].path == "/resume/"  # discord.py used resume_gateway_url
    assert [d.event for d in fake.dispatches].count("READY") == 1
    await fake.wait_for(lambda: ("resumed", None) in bot.events)
    ix2 = await fake.invoke(world.alice, world.chan, "echo", text="and after")
    assert (await ix2.wait_original()).content == "and after"


async def test_invalid_session_reidentifies(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    await fake.drop_gateway(resume=False)
    assert [d.event for d in fake.dispatches].count("READY") == 2
    ix = await fake.invoke(world.alice, world.chan, "echo", text="new session")
    assert (await ix.wait_original(timeout=10)).content == "new session"
