"""End-to-end fixtures: the fake Discord, the real engine, a real SQLite file and the real bot.

Nothing here budgets wall-clock time for the model: the bot's generation limit is scaled from how long
this machine took for a reference generation (`pace`), and tests wait for what the model writes with
`wait_working`, which waits as long as something moves and fails only when nothing does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.app import Taleweaver
from bot.llm.client import EngineClient
from bot.settings import Settings
from fakediscord import Channel, FakeDiscord, Guild, Message, Role, User
from fakediscord.permissions import MANAGE_GUILD
from storage.db import Database
from tests.support.engine_proc import EngineProcess
from tests.support.engine_proxy import EngineProxy
from tests.support.pace import Pace


@dataclass
class World:
    guild: Guild
    channel: Channel
    other_channel: Channel
    mod: User  # owns the guild
    alice: User
    bob: User
    cara: User
    keepers: Role  # a role with Manage Server


T = TypeVar("T")
IDLE_LIMIT_S = 60.0  # longer than any turn or vote timer the tests set; a hang shows as this much stillness


@dataclass
class BotHandle:
    """The real Taleweaver bot against the fake Discord; restartable on the same database file."""

    fake: FakeDiscord
    engine_url: str
    db_path: Path
    guild: Guild
    engine_timeout: float = 120.0
    narration_tokens: int = 48
    narration_drafts: int = 1
    proxy: EngineProxy | None = None
    settings_extra: dict[str, Any] = field(default_factory=dict)  # further Settings fields, e.g. NPC options
    bot: Taleweaver | None = None
    _task: asyncio.Task[None] | None = None
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def start(self) -> Taleweaver:
        self._stack = contextlib.AsyncExitStack()
        db = await self._stack.enter_async_context(Database.open(self.db_path))
        engine = await self._stack.enter_async_context(
            EngineClient(self.engine_url, timeout=self.engine_timeout, connect_retries=1)
        )
        settings = Settings(
            discord_token=self.fake.token,
            dev_guild_id=self.guild.id,
            database_path=self.db_path,
            engine_url=self.engine_url,
            narration_tokens=self.narration_tokens,
            narration_drafts=self.narration_drafts,
            **self.settings_extra,
        )
        self.bot = Taleweaver(settings=settings, db=db, engine=engine, guild_ready_timeout=0.05)
        self._task = asyncio.create_task(self.bot.start(self.fake.token))
        await self.fake.wait_ready(timeout=30)
        await self.fake.wait_commands_synced(self.guild, timeout=30)
        await asyncio.wait_for(self.bot.wait_until_ready(), 30)
        return self.bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
            # A poem or narration still being written dies with the closed HTTP session, as in a crash; its
            # task is reaped here, or its "Session is closed" is logged much later, inside another test.
            await self.bot.unfinished.settle(0)
        if self._task is not None:
            await self._task
        await self._stack.aclose()
        self.bot, self._task = None, None

    async def restart(self) -> Taleweaver:
        await self.stop()
        return await self.start()

    async def wait(self, predicate: Callable[[], T | None], *, what: str, channel: Channel | None = None) -> T:
        """`wait_working` on this bot and its engine proxy: for whatever the model has to write first."""
        assert self.proxy is not None
        return await wait_working(self.fake, self.proxy, predicate, what=what, channel=channel)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


def make_world(fake: FakeDiscord) -> World:
    """The server "Tale Guild" (owned by mod), #tavern and #library, alice, bob and cara, and a Keepers role."""
    mod = fake.add_user("mod")
    guild = fake.add_guild("Tale Guild", owner=mod)
    keepers = fake.add_role(guild, "Keepers", permissions=MANAGE_GUILD)
    alice, bob, cara = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("cara")
    for user in (alice, bob, cara):
        fake.add_member(guild, user)
    return World(
        guild, fake.add_channel(guild, "tavern"), fake.add_channel(guild, "library"), mod, alice, bob, cara, keepers
    )


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    return make_world(fake)


@pytest.fixture
def engine_url(engine: EngineProcess) -> str:
    """The engine the test's bot talks to: the session's. A module that serves its own engine (started with
    other settings) overrides this fixture, and gets `proxy` and `taleweaver` in front of that one."""
    return engine.url


@pytest.fixture
async def proxy(engine_url: str) -> AsyncIterator[EngineProxy]:
    proxy = await EngineProxy(engine_url).start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def taleweaver(
    fake: FakeDiscord, world: World, proxy: EngineProxy, tmp_path: Path, pace: Pace, request: pytest.FixtureRequest
) -> AsyncIterator[BotHandle]:
    """The bot, talking to the real engine through a proxy the test can make fail.

    The test's pytest-timeout becomes a hang guard scaled to this machine (the test itself waits with
    `wait_working`); it applies to the test's body, its fixtures being set up by then.
    """
    request.node.add_marker(pytest.mark.timeout(pace.hang_guard, func_only=True), append=False)
    handle = BotHandle(fake, proxy.url, tmp_path / "taleweaver.db", world.guild, pace.engine_timeout, proxy=proxy)
    handle.narration_tokens = getattr(request.module, "NARRATION_TOKENS", handle.narration_tokens)
    await handle.start()
    yield handle
    await handle.stop()


async def wait_working(
    fake: FakeDiscord,
    proxy: EngineProxy,
    predicate: Callable[[], T | None],
    *,
    what: str,
    channel: Channel | None = None,
    idle_limit: float = IDLE_LIMIT_S,
) -> T:
    """Wait for `predicate` for as long as the bot or the model is at work: Discord requests being made,
    text streaming through the proxy, or an engine request under way. Fail only after `idle_limit`
    seconds in which nothing moved at all, so a slow or busy machine is waited for and a hang is not."""
    loop = asyncio.get_running_loop()
    seen, still_since = (len(fake.requests), proxy.activity), loop.time()
    while True:
        try:
            return await fake.wait_for(predicate, timeout=1.0, channel=channel, what=what)
        except TimeoutError as exc:
            now = (len(fake.requests), proxy.activity)
            if now != seen or proxy.in_flight:
                seen, still_since = now, loop.time()
            elif loop.time() - still_since > idle_limit:
                raise TimeoutError(f"nothing moved for {idle_limit:.0f} s: {exc}") from None


def no_pings(messages: list[Message]) -> list[str]:
    """Messages that pinged @everyone or a role (the bot must never); returns their descriptions."""
    return [f"{m.id}: {m.content[:80]!r}" for m in messages if m.pinged_everyone or m.pinged_roles]
