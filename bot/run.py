"""Running the bot: open storage and the engine, run the Discord client, release everything.

Its own module so that both `python -m bot` and the playground start the bot the same way without
importing each other.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bot.app import Taleweaver, make_bot
from bot.llm.client import EngineClient
from bot.llm.supervisor import EngineSupervisor
from bot.settings import Settings, SettingsError
from storage.db import Database

log = logging.getLogger("bot")


async def run_bot(
    settings: Settings, *, on_bot: Callable[[Taleweaver], None] | None = None, **client_options: Any
) -> None:
    """Open storage and the engine, run the bot until it is closed or cancelled, then release everything.

    `on_bot` sees the bot before it connects (the playground keeps a handle to it); `client_options`
    go to discord.py's Client.
    """
    if not settings.discord_token:
        raise SettingsError("DISCORD_TOKEN is not set.")
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(Database.open(settings.database_path))
        if settings.engine_url:
            url, key = settings.engine_url, settings.engine_api_key
            log.info("using the engine at %s", url)
        else:
            log.info("starting the engine (set ENGINE_URL to use a running one)")
            supervisor = EngineSupervisor(start_timeout=settings.engine_start_timeout)
            await stack.enter_async_context(supervisor)
            url, key = supervisor.url, supervisor.api_key
        engine = await stack.enter_async_context(
            EngineClient(url, api_key=key, model=settings.engine_model, timeout=settings.engine_timeout)
        )
        bot = make_bot(settings=settings, db=db, engine=engine, **client_options)
        if on_bot:
            on_bot(bot)
        async with bot:
            await bot.start(settings.discord_token)
