"""The 👍 / 👎 pair. Persistent: the custom id carries the feedback item's id, the database the rest.

Buttons rather than reactions: a button press arrives with who pressed it and can be answered privately
("you rated this 👍; press 👎 to change it"), it needs no extra gateway intent, it survives restarts as a
`DynamicItem`, and one user cannot hold both 👍 and 👎 at once as they can with reactions.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

import discord

from cogs.ui import cog_of


@runtime_checkable
class RateHandler(Protocol):
    """What the buttons call on the Feedback cog (which imports this module)."""

    def on_rate(self, interaction: discord.Interaction, rating: str, item_id: int) -> Awaitable[None]: ...


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
        await cog_of(interaction, "Feedback", RateHandler).on_rate(interaction, self.rating, self.item_id)


def add_rating(view: discord.ui.View | None, item_id: int | None) -> discord.ui.View | None:
    """Put the 👍 / 👎 pair for feedback item `item_id` on `view` (a new persistent view if None)."""
    if item_id is None:
        return view
    view = view if view is not None else discord.ui.View(timeout=None)
    view.add_item(RateButton("up", item_id))
    view.add_item(RateButton("down", item_id))
    return view
