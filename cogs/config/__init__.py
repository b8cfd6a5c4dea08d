"""/config: the moderators' settings, server-wide and per channel."""

from __future__ import annotations

from discord.ext import commands

from cogs.config.cog import Config


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Config(bot))
