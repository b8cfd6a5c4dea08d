"""/npc and /scene: characters that speak in the channel through webhooks, under their own name and avatar."""

from __future__ import annotations

from discord.ext import commands

from cogs.npcs.cog import Npcs
from cogs.npcs.scene import Scenes


async def setup(bot: commands.Bot) -> None:
    npcs = Npcs(bot)
    await bot.add_cog(npcs)
    await bot.add_cog(Scenes(bot, npcs))
