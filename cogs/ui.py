"""Discord glue shared by the cogs: message sinks for streaming, deferral, the actor, guarded callbacks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import discord

from bot.errors import NotAllowed
from bot.moderation import Actor
from bot.streaming import StreamRenderer
from bot.text import MESSAGE_LIMIT

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
ORIGINAL = "original"  # handle of an interaction's own response message

P = ParamSpec("P")
T = TypeVar("T")


async def defer_public(interaction: discord.Interaction) -> None:
    """Acknowledge now (Discord allows 3 s) with a public "thinking…" placeholder."""
    await interaction.response.defer(thinking=True)
    interaction.extras["public_defer_pending"] = True


class InteractionSink:
    """Streams into an interaction's response message, with follow-ups for further pages."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction
        self.last: Any = None

    async def send(self, content: str) -> Any:
        if self.last is None:
            self._interaction.extras["public_defer_pending"] = False
            await self._interaction.edit_original_response(content=content, allowed_mentions=NO_PINGS)
            self.last = ORIGINAL
        else:
            self.last = await self._interaction.followup.send(content, wait=True, allowed_mentions=NO_PINGS)
        return self.last

    async def edit(self, handle: Any, content: str) -> None:
        if handle == ORIGINAL:
            await self._interaction.edit_original_response(content=content, allowed_mentions=NO_PINGS)
        else:
            await handle.edit(content=content, allowed_mentions=NO_PINGS)

    async def attach(self, view: discord.ui.View | None) -> None:
        """Put buttons on the last message of the stream."""
        if self.last == ORIGINAL:
            await self._interaction.edit_original_response(view=view)
        elif self.last is not None:
            await self.last.edit(view=view)


class ChannelSink:
    """Streams into new channel messages (for output not tied to one interaction, e.g. a narrator)."""

    def __init__(self, channel: discord.abc.Messageable, *, reference: discord.Message | None = None) -> None:
        self._channel = channel
        self._reference = reference
        self.last: discord.Message | None = None

    async def send(self, content: str) -> discord.Message:
        self.last = await self._channel.send(content, allowed_mentions=NO_PINGS, reference=self._reference)
        self._reference = None
        return self.last

    async def edit(self, handle: discord.Message, content: str) -> None:
        await handle.edit(content=content, allowed_mentions=NO_PINGS)

    async def attach(self, view: discord.ui.View | None) -> None:
        if self.last is not None:
            await self.last.edit(view=view)


def renderer(sink: InteractionSink | ChannelSink, header: str = "") -> StreamRenderer:
    return StreamRenderer(sink, header=header, limit=MESSAGE_LIMIT)


def actor_of(interaction: discord.Interaction) -> Actor:
    user = interaction.user
    roles = [r.id for r in getattr(user, "roles", [])]
    manage = bool(interaction.permissions.manage_guild) if interaction.permissions else False
    return Actor.of(user.id, interaction.guild_id or 0, manage, roles)


async def is_moderator(interaction: discord.Interaction) -> bool:
    return await interaction.client.moderation.is_moderator(actor_of(interaction))  # type: ignore[attr-defined]


def guarded(
    callback: Callable[Concatenate[Any, discord.Interaction, P], Awaitable[None]],
) -> Callable[Concatenate[Any, discord.Interaction, P], Awaitable[None]]:
    """Route a component/modal callback's errors to the bot's one error handler."""

    @functools.wraps(callback)
    async def wrapper(self: Any, interaction: discord.Interaction, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await callback(self, interaction, *args, **kwargs)
        except Exception as exc:
            await interaction.client.report_error(interaction, exc)  # type: ignore[attr-defined]

    return wrapper


def in_guild(interaction: discord.Interaction) -> int:
    """The server id; commands are registered guild-only, so this holds in practice."""
    if interaction.guild_id is None:
        raise NotAllowed("Taleweaver works inside servers, not in direct messages.")
    return interaction.guild_id
