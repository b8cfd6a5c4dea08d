"""/privacy forget-me: thin handler over bot.privacy.PrivacyService, with a confirmation first."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Taleweaver
from cogs.controls import Confirm
from storage.privacy import UserErasure


def describe_erasure(found: UserErasure) -> str:
    parts = [
        (found.poems, "poem(s) you asked for: deleted"),
        (found.turns, "story turn(s) you wrote: text removed (the place in the story stays, without your name)"),
        (found.ballots, "vote(s): deleted"),
        (found.pins, "pinned fact(s): deleted"),
        (found.players, "place(s) as a player (with your character names): deleted"),
        (found.stories_started, "stor(ies) you started: your name removed (the table's story stays)"),
        (found.lore, "lore entr(ies) you wrote: your name removed (the server's world stays)"),
        (found.audit_entries, "audit entr(ies) naming you: anonymised"),
        (found.feedback, "rating(s) and training example(s) with your words: deleted"),
    ]
    return "\n".join(f"• {count} {what}" for count, what in parts if count) or "• nothing"


class Privacy(commands.Cog):
    def __init__(self, bot: Taleweaver) -> None:
        self.bot = bot

    privacy = app_commands.Group(name="privacy", description="What Taleweaver keeps about you.")

    @privacy.command(name="forget-me", description="Remove your poems, turns and votes from every server.")
    async def forget_me(self, interaction: discord.Interaction) -> None:
        service = self.bot.privacy
        user_id = interaction.user.id
        found = await service.footprint(user_id)
        if not found.total and not found.audit_entries:
            await interaction.response.send_message("🔏 Taleweaver keeps nothing of yours.", ephemeral=True)
            return

        async def forget() -> str:
            done = await service.forget_user(user_id)
            return f"🔏 Done. On every server:\n{describe_erasure(done)}"

        await interaction.response.send_message(
            f"🔏 This removes, on **every** server and for good:\n{describe_erasure(found)}\n\nMessages already "
            "posted in channels stay; delete them in Discord. Go ahead?",
            view=Confirm(user_id, forget, yes="Yes, forget me"),
            ephemeral=True,
        )
