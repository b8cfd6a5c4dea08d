"""The 👍 / 👎 pair. Persistent: the custom id carries the feedback item's id, the database the rest.

Buttons rather than reactions: a button press arrives with who pressed it and can be answered privately
("you rated this 👍; press 👎 to change it"), it needs no extra gateway intent, it survives restarts as a
`DynamicItem`, and one user cannot hold both 👍 and 👎 at once as they can with reactions.
"""

from __future__ import annotations

import re
from typing import Any

import discord

LABELS = {"up": ("👍", "This is good"), "down": ("👎", "Not this")}
ROW = 4  # the last row, so a feature's own buttons keep theirs


class RateButton(discord.ui.DynamicItem[discord.ui.Button], template=r"rate:(?P<rating>up|down):(?P<id>\d+)"):
    def __init__(self, rating: str, item_id: int) -> None:
        emoji, _ = LABELS[rating]
        super().__init__(
            discord.ui.Button(
                emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=f"rate:{rating}:{item_id}", row=ROW
            )
        )
        self.rating = rating
        self.item_id = item_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> RateButton:
        return cls(match["rating"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        cog = interaction.client.get_cog("Feedback")  # type: ignore[attr-defined]
        await cog.on_rate(interaction, self.rating, self.item_id)


def add_rating(view: discord.ui.View | None, item_id: int | None) -> discord.ui.View | None:
    """Put the 👍 / 👎 pair for feedback item `item_id` on `view` (a new persistent view if None)."""
    if item_id is None:
        return view
    view = view if view is not None else discord.ui.View(timeout=None)
    view.add_item(RateButton("up", item_id))
    view.add_item(RateButton("down", item_id))
    return view
