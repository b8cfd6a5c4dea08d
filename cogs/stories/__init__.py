"""/story: multiplayer story rounds with an AI narrator."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.stories.cog import Stories


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Stories(bot))
