"""/lore: world facts per channel that the narrator is reminded of when they come up."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.lore.cog import Lore


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Lore(bot))
