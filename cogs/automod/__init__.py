"""Reads the server's Discord AutoMod keyword rules for bot.safety.automod, and keeps them fresh."""

from __future__ import annotations

from discord.ext import commands

from cogs.automod.cog import AutoMod


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AutoMod(bot))
