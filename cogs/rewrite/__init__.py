"""/rewrite and the "Rewrite in a style…" message command."""

from __future__ import annotations

from discord.ext import commands

from cogs.rewrite.cog import Rewrite


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Rewrite(bot))
