"""Rating buttons under everything the bot writes (👍 / 👎), shared by poems, narrations and later features."""

from __future__ import annotations

from discord.ext import commands

from cogs.feedback.cog import Feedback


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Feedback(bot))
