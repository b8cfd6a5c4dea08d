"""/rewrite and the "Rewrite in a style…" message command."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.rewrite.cog import Rewrite


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Rewrite(bot))
