"""Persistent buttons (the custom id carries the story or vote id) and the long-turn modal."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, ClassVar, Protocol, runtime_checkable

import discord

from bot.stories.rules import TURN_LIMIT
from cogs.ui import bot_of, cog_of


@runtime_checkable
class StoryHandlers(Protocol):
    """What the buttons and the modal call on the Stories cog (which imports this module)."""

    def on_lobby_button(self, interaction: discord.Interaction, action: str, story_id: int) -> Awaitable[None]: ...

    def on_vote(self, interaction: discord.Interaction, vote_id: int, option: int) -> Awaitable[None]: ...

    def on_continue(self, interaction: discord.Interaction, turn_id: int) -> Awaitable[None]: ...

    def submit_turn(self, interaction: discord.Interaction, text: str, *, edit: bool = False) -> Awaitable[None]: ...


def _handlers(interaction: discord.Interaction) -> StoryHandlers:
    return cog_of(interaction, "Stories", StoryHandlers)


class LobbyButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"story:(?P<action>join|leave|start):(?P<id>\d+)"
):
    LOOK: ClassVar[dict[str, tuple[str, str, discord.ButtonStyle]]] = {
        "join": ("Join", "🙋", discord.ButtonStyle.success),
        "leave": ("Leave", "👋", discord.ButtonStyle.secondary),
        "start": ("Start", "▶️", discord.ButtonStyle.primary),
    }

    def __init__(self, action: str, story_id: int, *, disabled: bool = False) -> None:
        label, emoji, style = self.LOOK[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"story:{action}:{story_id}", disabled=disabled
            )
        )
        self.action = action
        self.story_id = story_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> LobbyButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        await _handlers(interaction).on_lobby_button(interaction, self.action, self.story_id)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"story:vote:(?P<vote>\d+):(?P<option>\d)"):
    def __init__(self, vote_id: int, option: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Option {option + 1}",
                style=discord.ButtonStyle.primary,
                custom_id=f"story:vote:{vote_id}:{option}",
                disabled=disabled,
            )
        )
        self.vote_id = vote_id
        self.option = option

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> VoteButton:
        return cls(int(match["vote"]), int(match["option"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        await _handlers(interaction).on_vote(interaction, self.vote_id, self.option)


class ContinueButton(discord.ui.DynamicItem[discord.ui.Button], template=r"story:continue:(?P<turn>\d+)"):
    """Under a narration that time cut short: the narrator goes on with it (the id is the turn's)."""

    def __init__(self, turn_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Continue", emoji="⏩", style=discord.ButtonStyle.primary, custom_id=f"story:continue:{turn_id}"
            )
        )
        self.turn_id = turn_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ContinueButton:
        return cls(int(match["turn"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        await _handlers(interaction).on_continue(interaction, self.turn_id)


def continue_view(turn_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ContinueButton(turn_id))
    return view


def lobby_view(story_id: int, *, started: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(LobbyButton("join", story_id))
    view.add_item(LobbyButton("leave", story_id))
    view.add_item(LobbyButton("start", story_id, disabled=started))
    return view


def vote_view(vote_id: int, options: int, *, closed: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for option in range(options):
        view.add_item(VoteButton(vote_id, option, disabled=closed))
    return view


class TurnModal(discord.ui.Modal, title="Your turn"):
    """For contributions too long to type comfortably into a slash-command option."""

    text: discord.ui.TextInput[TurnModal] = discord.ui.TextInput(
        label="What does your character do?",
        style=discord.TextStyle.paragraph,
        placeholder=f"Up to {TURN_LIMIT:,} characters.",
        max_length=TURN_LIMIT,  # the form states the one limit the story enforces (Discord counts down to it)
    )

    def __init__(self, cog: StoryHandlers, *, edit: bool = False) -> None:
        super().__init__(title="Edit your turn" if edit else "Your turn")
        self.cog = cog
        self.edit = edit

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.cog.submit_turn(interaction, self.text.value, edit=self.edit)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await bot_of(interaction).report_error(interaction, error)
