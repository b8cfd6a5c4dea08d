"""The plain-message twin of `cogs.ui.admit`: whether a message may reach NPCs in its channel (Taleweaver
active, NPCs on, what it says past the safety gate). A refused message is ignored and logged: nobody
typed a command, so there is nobody to answer privately."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.app import Taleweaver
from bot.config import ConfigSnapshot, Place
from bot.errors import NotAllowed
from bot.safety.gate import SafetyContext

log = logging.getLogger(__name__)


def place_of_channel(guild_id: int, channel: discord.abc.GuildChannel | discord.Thread) -> Place:
    """Where settings are read for a channel: a thread reads its parent's too."""
    parent = channel.parent if isinstance(channel, discord.Thread) else None
    nsfw_of: Any = parent if parent is not None else channel
    nsfw = bool(nsfw_of.is_nsfw()) if hasattr(nsfw_of, "is_nsfw") else False
    return Place(guild_id, channel.id, parent.id if parent is not None else None, nsfw)


async def admit_message(bot: Taleweaver, message: discord.Message, feature: str = "npcs") -> ConfigSnapshot | None:
    """The settings where `message` was posted, or None when it must not reach the feature there."""
    channel = message.channel
    if message.guild is None or not isinstance(channel, discord.TextChannel | discord.Thread):
        return None
    place = place_of_channel(message.guild.id, channel)
    return await admitted(bot, place, message.author.id, message.content, feature, what=f"message {message.id}")


async def admitted(
    bot: Taleweaver, place: Place, user_id: int, text: str, feature: str, *, what: str
) -> ConfigSnapshot | None:
    """The settings at `place`, or None (logged) when Taleweaver or the feature is off there, or the gate
    refuses `text`."""
    settings: ConfigSnapshot = await bot.config.at(place)
    try:
        bot.limits.check(settings, place.guild_id, user_id, feature, generates=False)
    except NotAllowed as refused:
        log.info("%s not taken in %s: %s", what, place.channel_id, refused)
        return None
    context = SafetyContext(place.guild_id, place.channel_id, user_id, feature, settings)
    if not (await bot.gate.check_input(context, text, field_name="message")).allowed:
        log.info("%s not taken in %s: refused by the safety gate", what, place.channel_id)
        return None
    return settings
