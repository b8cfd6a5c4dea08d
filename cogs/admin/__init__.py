"""/help, /status and the moderators' /settings."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.admin.cog import Admin


async def setup(bot: Taleweaver) -> None:
    await bot.add_cog(Admin(bot))
