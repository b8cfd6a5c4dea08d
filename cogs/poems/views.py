"""The buttons under a poem. Persistent: the custom id carries the poem id, the database the rest."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

import discord

from cogs.controls import DeleteButton
from cogs.ui import cog_of
from storage.poems import Poem


@runtime_checkable
class PoemHandlers(Protocol):
    """What the buttons call on the Poems cog (which imports this module)."""

    def on_button(self, interaction: discord.Interaction, action: str, poem_id: int) -> Awaitable[None]: ...


ACTIONS = {
    "continue": ("Continue", "⏩", discord.ButtonStyle.primary),
    "regen": ("Regenerate", "🔄", discord.ButtonStyle.secondary),
    "another": ("Another take", "✨", discord.ButtonStyle.secondary),
    "save": ("Save to anthology", "📚", discord.ButtonStyle.primary),
    "check": ("Show the check", "📏", discord.ButtonStyle.secondary),
}


class PoemButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"poem:(?P<action>continue|regen|another|save|check):(?P<id>\d+)",
):
    def __init__(self, action: str, poem_id: int, *, saved: bool = False) -> None:
        label, emoji, style = ACTIONS[action]
        if action == "save" and saved:
            label, style = "In the anthology", discord.ButtonStyle.success
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"poem:{action}:{poem_id}", disabled=saved
            )
        )
        self.action = action
        self.poem_id = poem_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> PoemButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        await cog_of(interaction, "Poems", PoemHandlers).on_button(interaction, self.action, self.poem_id)


def poem_view(poem: Poem, *, written: bool = True, cut_short: bool = False) -> discord.ui.View:
    """`cut_short`: time ran out and the poem stops early; Continue writes the rest."""
    view = discord.ui.View(timeout=None)
    if cut_short and not poem.saved:
        view.add_item(PoemButton("continue", poem.id))
    view.add_item(PoemButton("regen", poem.id))
    view.add_item(PoemButton("another", poem.id))
    if written:
        view.add_item(PoemButton("save", poem.id, saved=poem.saved))
    if written and poem.form_check:
        view.add_item(PoemButton("check", poem.id))
    if written:
        view.add_item(DeleteButton("poem", poem.id))
    return view
