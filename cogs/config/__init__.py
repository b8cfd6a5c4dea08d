"""/config: the moderators' settings, server-wide and per channel."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.config.cog import Config


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Config(bot))
