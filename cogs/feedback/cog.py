"""Rating presses: thin glue over bot.feedback.FeedbackService."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.feedback import parse_rating
from cogs.feedback.views import LABELS, RateButton
from cogs.ui import guarded, in_guild


class Feedback(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(RateButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(RateButton)

    @guarded
    async def on_rate(self, interaction: discord.Interaction, rating: str, item_id: int) -> None:
        value = parse_rating(rating)
        rated = await self.bot.feedback.rate(item_id, in_guild(interaction), interaction.user.id, value)  # type: ignore[attr-defined]
        emoji = LABELS[rating][0]
        if rated.previous == value:
            what = f"You had already rated this {emoji}."
        elif rated.previous is None:
            what = f"Thanks, you rated this {emoji}."
        else:
            what = f"Changed: you now rate this {emoji}."
        other = LABELS["down" if rating == "up" else "up"][0]
        tally = f"{rated.tally.up} 👍 · {rated.tally.down} 👎"
        await interaction.response.send_message(
            f"{what} ({tally}) Press {other} to change your mind. Ratings help Taleweaver learn this "
            "server's taste, if its moderators allow it.",
            ephemeral=True,
        )
