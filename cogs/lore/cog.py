"""/lore add|list|remove: thin handlers over bot.lore.LoreService."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.text import quote, truncate
from cogs.ui import NO_PINGS, actor_of, admit


class Lore(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.lore  # type: ignore[attr-defined]

    lore = app_commands.Group(
        name="lore", description="World facts the narrator recalls when they come up.", guild_only=True
    )

    @lore.command(name="add", description="Add a lore entry to this channel (moderators or the story's starter).")
    @app_commands.describe(
        keys="Comma-separated words that trigger it, e.g. 'Ember, dragon'",
        content="What the narrator should know, e.g. 'Ember is an old red dragon who hoards songs.'",
        order="Insertion order: higher numbers go later in the prompt, nearer the end (default 100)",
    )
    async def add(
        self, interaction: discord.Interaction, keys: str, content: str, order: app_commands.Range[int, 0, 1000] = 100
    ) -> None:
        await admit(interaction, "lore", {"keys": keys, "content": content})
        entry = await self.service.add(actor_of(interaction), interaction.channel_id, keys, content, order)
        await interaction.response.send_message(
            f"📖 Lore #{entry.id} added, triggered by {', '.join(f'`{quote(k, 40)}`' for k in entry.keys)}.",
            ephemeral=True,
        )

    @lore.command(name="list", description="The lore entries of this channel.")
    async def list(self, interaction: discord.Interaction) -> None:
        entries = await self.service.entries(interaction.channel_id)
        if not entries:
            await interaction.response.send_message(
                "📖 No lore here yet. `/lore add` creates an entry.", ephemeral=True
            )
            return
        lines = [
            f"`#{e.id}` [{', '.join(quote(k, 30) for k in e.keys)}] (order {e.priority}) {quote(e.content, 160)}"
            for e in entries
        ]
        embed = discord.Embed(title="📖 Lore", description=truncate("\n".join(lines), 4000))
        embed.set_footer(text=f"{len(entries)} entries · used when a key appears in the latest turns")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @lore.command(name="remove", description="Remove a lore entry (moderators or the story's starter).")
    @app_commands.describe(id="The entry's number, from /lore list")
    async def remove(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        entry = await self.service.remove(actor_of(interaction), interaction.channel_id, id)
        await interaction.response.send_message(f"🗑️ Lore #{entry.id} removed.", ephemeral=True)
