"""/privacy: what Taleweaver keeps about you, and forgetting it."""

from __future__ import annotations

from discord.ext import commands

from cogs.privacy.cog import Privacy


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Privacy(bot))
