"""/lore: world facts per channel that the narrator is reminded of when they come up."""

from __future__ import annotations

from discord.ext import commands

from cogs.lore.cog import Lore


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Lore(bot))
