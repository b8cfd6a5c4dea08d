"""/poem and /anthology."""

from __future__ import annotations

from discord.ext import commands

from cogs.poems.cog import Poems


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Poems(bot))
