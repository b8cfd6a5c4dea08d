"""`python -m bot` (what `make run` starts): open the resources, then run the Discord client."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

import discord

from bot.app import Taleweaver
from bot.llm.supervisor import EngineStartError
from bot.run import run_bot
from bot.settings import TOKEN_HELP, Settings, SettingsError
from storage.db import StorageError

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
  SHARD_COUNT     gateway shards in this process: a number, or auto (Discord's recommendation); unset = one
  Back up the database while the bot runs: python -m bot.backup --out FILE
The offline playground (no Discord account needed) is `make play`.
"""


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
    from bot.playground.cli import main as play

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
