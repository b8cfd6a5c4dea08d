"""Buttons shared by every generated text: Cancel (while it is written) and Delete (once it is there).

Persistent (`DynamicItem`): the custom id carries what the button acts on, so a Delete under a poem
still works after a restart. The rules live in services (bot.cancel, bot.removal); these only render.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from cogs.ui import actor_of, bot_of, is_moderator

log = logging.getLogger(__name__)


class CancelButton(discord.ui.DynamicItem[discord.ui.Button], template=r"cancel:(?P<kind>poem|story):(?P<id>\d+)"):
    """Under a poem or narration while it waits in line or streams: stops the engine request."""

    def __init__(self, kind: str, ref_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel", emoji="🛑", style=discord.ButtonStyle.danger, custom_id=f"cancel:{kind}:{ref_id}"
            )
        )
        self.kind = kind
        self.ref_id = ref_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> CancelButton:
        return cls(match["kind"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        bot: Any = interaction.client
        try:
            moderator = await is_moderator(interaction)
            scope = bot.cancels.cancel(self.kind, self.ref_id, interaction.user.id, moderator)
            if interaction.user.id not in scope.owners:  # a moderator stopped someone else's request
                await bot.moderation.record(actor_of(interaction), f"{self.kind}.cancel", id=self.ref_id)
            await interaction.response.defer()  # the writer itself says it was cancelled
        except Exception as exc:
            await bot.report_error(interaction, exc)


class DeleteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"delete:(?P<kind>poem):(?P<id>\d+)"):
    """Under a finished poem: whoever asked for it (or a moderator) removes the message and what is stored."""

    def __init__(self, kind: str, ref_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete", emoji="🗑️", style=discord.ButtonStyle.secondary, custom_id=f"delete:{kind}:{ref_id}"
            )
        )
        self.kind = kind
        self.ref_id = ref_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> DeleteButton:
        return cls(match["kind"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        bot: Any = interaction.client
        try:
            await bot.privacy.delete_poem(self.ref_id, actor_of(interaction))
            await interaction.response.defer()
            if interaction.message is not None:
                await interaction.message.delete()
        except discord.NotFound:
            pass  # the message went already
        except Exception as exc:
            await bot.report_error(interaction, exc)


class Confirm(discord.ui.View):
    """ "Are you sure?" under a private message: only `user_id` may answer; `action` runs on Yes and
    returns what to say instead."""

    def __init__(self, user_id: int, action: Callable[[], Awaitable[str]], yes: str = "Yes, remove it") -> None:
        super().__init__(timeout=120)
        self.user_id = user_id
        self.action = action
        self.yes.label = yes

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.user_id

    @discord.ui.button(label="Yes", style=discord.ButtonStyle.danger)
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]) -> None:
        self.stop()
        await interaction.response.edit_message(content="⏳ Removing…", view=None)
        try:
            content = await self.action()
        except Exception as exc:
            await bot_of(interaction).report_error(interaction, exc)
            return
        await interaction.edit_original_response(content=content)

    @discord.ui.button(label="Keep it", style=discord.ButtonStyle.secondary)
    async def keep(self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was removed.", view=None)


def cancel_view(kind: str, ref_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(kind, ref_id))
    return view


async def setup(bot: Any) -> None:
    """An extension of its own, so every feature's messages may carry these buttons."""
    bot.add_dynamic_items(CancelButton, DeleteButton)


async def teardown(bot: Any) -> None:
    bot.remove_dynamic_items(CancelButton, DeleteButton)
