"""/npc and /scene: characters that speak in the channel through webhooks, under their own name and avatar."""

from __future__ import annotations

from bot.app import Taleweaver
from cogs.npcs.cog import Npcs
from cogs.npcs.scene import Scenes


async def setup(bot: Taleweaver) -> None:
    npcs = Npcs(bot)
    await bot.add_cog(npcs)
    await bot.add_cog(Scenes(bot, npcs))
