"""``FakeDiscord``: the loopback Discord a real discord.py client connects to.

It serves the REST API under ``/api/v10`` and the gateway websocket on 127.0.0.1 (a free port), and
``install()`` points discord.py at it by patching the two module-level URLs discord.py reads
(``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``). Everything else is the real
client: its HTTP session, rate-limit handling, gateway reconnect logic and parsers.

Typical use::

    async with FakeDiscord() as fake:          # start() + install(); uninstall() + stop() on exit
        alice = fake.add_user("alice")
        guild = fake.add_guild("Test Guild", owner=alice)
        chan = fake.add_channel(guild, "general")
        bot = MyBot(...)
        task = asyncio.create_task(bot.start(fake.token))
        await fake.wait_ready()
        ix = await fake.invoke(alice, chan, "story start", title="X")
        msg = await ix.wait_original()
"""

from __future__ import annotations

from types import TracebackType

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from .actions import UserActions
from .automod import AutoModActions
from .errors import FakeUsageError
from .gateway import Gateway
from .models import Guild
from .rest import build_app
from .traffic import Delay, Fault


class FakeDiscord(UserActions, AutoModActions):
    """State (``Store``), user verbs (``UserActions``), plus the server, faults and client install."""

    def __init__(self, *, bot_name: str = "Taleweaver") -> None:
        super().__init__(bot_name=bot_name)
        self.gateway = Gateway(self)
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL] | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        if self._runner is not None:
            return self
        self._runner = web.AppRunner(build_app(self, self.gateway.handle), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        """Close gateway connections, then the server. Close the bot first, or it will reconnect."""
        if self._runner is None:
            return
        await self.gateway.close()
        await self._runner.cleanup()
        self._runner = None

    def install(self) -> None:
        """Point discord.py (REST base and default gateway) at this fake until ``uninstall()``."""
        if self._runner is None:
            raise FakeUsageError("start() the fake before install(): the port is chosen at start")
        if self._saved is None:
            self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.ws_url)

    def uninstall(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        self.install()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.uninstall()
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def ws_url(self) -> str:
        return self.gateway.url("/")

    # -- waiting ----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """A client identified and is connected right now."""
        return self.gateway.connected

    async def wait_ready(self, timeout: float = 10.0, *, shards: int = 1) -> None:  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        """Until a client identified and was sent READY and every GUILD_CREATE (``shards``: until that
        many shards are connected; discord.py identifies them one after another, 5 s apart).

        discord.py fires ``on_ready`` ``guild_ready_timeout`` (default 2 s) after the last
        GUILD_CREATE; construct test bots with ``guild_ready_timeout=0.05`` to skip that wait.
        """
        what = "a client to IDENTIFY" if shards == 1 else f"{shards} shards to IDENTIFY"
        await self.wait_for(lambda: len(self.gateway.ready_shards()) >= shards, timeout, what=what)

    async def wait_commands_synced(self, guild: Guild | int | None = None, timeout: float = 10.0) -> None:  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        """Until the bot registered commands for ``guild`` (or globally when None)."""
        scope = guild.id if isinstance(guild, Guild) else guild
        await self.wait_for(lambda: scope in self.commands.synced, timeout, what=f"commands synced for {scope}")

    def _require_gateway(self) -> None:
        if not any(s.ready for s in self.gateway.sessions.values()):
            raise FakeUsageError("no client has identified on the gateway; await fake.wait_ready() first")

    # -- fault injection --------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        pattern: str,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: float = 0.1,
        is_global: bool = False,
        code: int = 0,
        message: str | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` (429: Discord's rate-limit body,
        ``Retry-After`` and ``X-RateLimit-*`` headers; ``is_global`` sets the global flag)."""
        fault = Fault(method, pattern, status, times, retry_after, is_global, code, message)
        self.faults.append(fault)
        return fault

    def delay_route(self, method: str, pattern: str, seconds: float, *, times: int | None = None) -> Delay:
        """Hold matching requests for ``seconds`` before handling them (all of them when ``times`` is None)."""
        delay = Delay(method, pattern, seconds, times)
        self.delays.append(delay)
        return delay

    def clear_faults(self) -> None:
        self.faults.clear()
        self.delays.clear()

    async def drop_gateway(self, *, resume: bool = True, timeout: float = 10.0) -> None:  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        """Cut the websocket. ``resume=True``: close 4000, the client reconnects and RESUMEs (events in
        between are replayed). ``resume=False``: invalid session, the client IDENTIFYs afresh.
        Returns once the client is back."""
        await self.gateway.drop(resume=resume, timeout=timeout)
