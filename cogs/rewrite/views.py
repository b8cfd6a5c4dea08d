"""The style picker under "Rewrite in a style…": a select whose custom id names the message (so it
works after a restart), and a modal for a style of the user's own."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

import discord

from bot.rewrite import FREE, STYLE_LIMIT, STYLES
from cogs.ui import cog_of

TEMPLATE = r"rewrite:pick:(?P<message>\d+)"


@runtime_checkable
class RewriteHandlers(Protocol):
    """What the picker and the modal call on the Rewrite cog (which imports this module)."""

    def on_pick(self, interaction: discord.Interaction, message_id: int, style: str) -> Awaitable[None]: ...

    def rewrite_message(self, interaction: discord.Interaction, message_id: int, style: str) -> Awaitable[None]: ...


class StylePicker(discord.ui.DynamicItem[discord.ui.Select], template=TEMPLATE):
    def __init__(self, message_id: int) -> None:
        options = [discord.SelectOption(label=s.label, value=s.key) for s in STYLES.values()]
        options.append(discord.SelectOption(label=f"{FREE.label}…", value=FREE.key, emoji="✏️"))
        super().__init__(
            discord.ui.Select(custom_id=f"rewrite:pick:{message_id}", placeholder="Pick a style", options=options)
        )
        self.message_id = message_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str], /
    ) -> StylePicker:
        return cls(int(match["message"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        await cog_of(interaction, "Rewrite", RewriteHandlers).on_pick(interaction, self.message_id, self.item.values[0])


class FreeStyle(discord.ui.Modal, title="Rewrite in your own style"):
    style: discord.ui.TextInput[FreeStyle] = discord.ui.TextInput(
        label="Style", placeholder="e.g. pirate shanty, weather report", max_length=STYLE_LIMIT, custom_id="style"
    )

    def __init__(self, message_id: int) -> None:
        super().__init__(custom_id=f"rewrite:free:{message_id}")
        self.message_id = message_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await cog_of(interaction, "Rewrite", RewriteHandlers).rewrite_message(
            interaction, self.message_id, self.style.value
        )


def picker(message_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(StylePicker(message_id))
    return view
