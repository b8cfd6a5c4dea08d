"""/poem and /anthology."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.poems.cog import Poems


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Poems(bot))
