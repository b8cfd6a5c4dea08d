"""/help, /status and the moderators' /settings."""

from __future__ import annotations

from discord.ext import commands

from cogs.admin.cog import Admin


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Admin(bot))
