"""`python -m tests.support.bot_proc`: the real `python -m bot` (its `main()`, signal handling, engine
supervisor and all), pointed at a loopback fake Discord in another process.

discord.py reads two module-level URLs; `FakeDiscord.install()` patches them in its own process, and this
does the same here from FAKE_DISCORD_API and FAKE_DISCORD_WS before handing over to `bot.__main__.main`.
Every other setting comes from the environment, as for the real bot.
"""

from __future__ import annotations

import os
import sys

import discord
import yarl
from discord.gateway import DiscordWebSocket


def main() -> int:
    discord.http.Route.BASE = os.environ["FAKE_DISCORD_API"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["FAKE_DISCORD_WS"])
    from bot.__main__ import main as run_bot

    return run_bot([])


if __name__ == "__main__":
    sys.exit(main())
