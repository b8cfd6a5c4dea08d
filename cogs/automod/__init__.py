"""Reads the server's Discord AutoMod keyword rules for bot.safety.automod, and keeps them fresh."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.automod.cog import AutoMod


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(AutoMod(bot))
