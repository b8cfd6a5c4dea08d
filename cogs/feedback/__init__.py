"""Rating buttons under everything the bot writes (👍 / 👎), shared by poems, narrations and later features."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.feedback.cog import Feedback


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Feedback(bot))
