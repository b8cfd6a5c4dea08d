"""/story: multiplayer story rounds with an AI narrator."""

from __future__ import annotations

from discord.ext import commands

from cogs.stories.cog import Stories


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Stories(bot))
