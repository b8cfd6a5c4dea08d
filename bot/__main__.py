"""`python -m bot` (what `make run` starts): open the resources, then run the Discord client."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

import discord

from bot.app import Taleweaver
from bot.engine_client import EngineClient
from bot.engine_process import EngineStartError, EngineSupervisor
from bot.settings import TOKEN_HELP, Settings, SettingsError
from storage.db import Database, StorageError

log = logging.getLogger("bot")

DESCRIPTION = """\
Run the Taleweaver Discord bot.

Settings come from the environment or a .env file (see .env.example):
  DISCORD_TOKEN   the bot's token (required; without it this explains how to get one)
  DEV_GUILD_ID    a server id to sync slash commands to instantly (optional)
  DATABASE_PATH   the SQLite file (default data/taleweaver.db)
  ENGINE_URL      an OpenAI-compatible server to use; unset = start `python -m engine` here
  ENGINE_API_KEY  its API key, if it needs one
  SHUTDOWN_GRACE  seconds generations get to finish on SIGTERM/Ctrl-C (default 30; twice stops at once)
The offline playground (no Discord account needed) is `make play`.
"""


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
        bot = Taleweaver(settings=settings, db=db, engine=engine, **client_options)
        if on_bot:
            on_bot(bot)
        async with bot:
            await bot.start(settings.discord_token)


async def _main(settings: Settings) -> None:
    """Run until SIGTERM or Ctrl-C. The first one stops the bot gracefully (`Taleweaver.shut_down`: no
    new commands, story channels told, generations given SHUTDOWN_GRACE seconds); a second one, or one
    that comes while the bot is still starting, stops at once. Either way the engine it started stops."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    bots: list[Taleweaver] = []
    stopping: set[asyncio.Task[None]] = set()

    def on_signal() -> None:
        if stopping or not bots or not bots[0].is_ready():
            task.cancel()
            return
        log.info("stopping (again to stop at once)")
        stopping.add(asyncio.create_task(bots[0].shut_down(settings.shutdown_grace), name="shutdown"))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    with contextlib.suppress(asyncio.CancelledError):
        await run_bot(settings, on_bot=bots.append)
    await asyncio.gather(*stopping, return_exceptions=True)
    log.info("stopped")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("discord.http").setLevel(logging.WARNING)


def offer_playground() -> int:
    print(TOKEN_HELP)
    if not sys.stdin.isatty():
        return 1
    answer = input("Start the offline playground now? [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        return 1
    from bot.playground import main as play

    return play([])


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m bot", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Taleweaver: {exc}", file=sys.stderr)
        return 2
    if not settings.discord_token:
        return offer_playground()
    configure_logging(settings.log_level)
    try:
        asyncio.run(_main(settings))
    except discord.LoginFailure:
        print(
            "Discord rejected DISCORD_TOKEN. Reset the token in the developer portal and update .env.", file=sys.stderr
        )
        return 1
    except (EngineStartError, StorageError) as exc:
        print(f"Taleweaver could not start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
