"""/privacy: what Taleweaver keeps about you, and forgetting it."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.privacy.cog import Privacy


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Privacy(bot))
