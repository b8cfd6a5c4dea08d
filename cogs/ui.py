"""Discord glue shared by the cogs: message sinks for streaming, deferral, the actor, guarded callbacks."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import discord
from discord.ext import commands

from bot.app import Taleweaver
from bot.config import ConfigSnapshot, Place
from bot.errors import NotAllowed
from bot.moderation import Actor
from bot.safety.gate import SafetyContext
from bot.streaming import StreamRenderer
from bot.text import MESSAGE_LIMIT

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
ORIGINAL = "original"  # handle of an interaction's own response message
SCAN_LIMIT = 200  # messages searched for one the bot posted but never stored the id of
CLOCK_SLACK = 60.0  # seconds: our clock and Discord's may disagree a little

INVALID_TOKEN = 50027  # Discord's answer to an interaction token past its 15 minutes
EXPIRED = (
    "📬 <@{user}>: your {command} took longer than Discord lets me answer under a command (15 minutes), "
    "so here it is as a message."
)
MOVED = "📬 *Answered in the channel: {link}* (a command's own reply can be changed for 15 minutes only)."
RESPONSE_ID = "response_message_id"  # interaction.extras: the id of the interaction's own response message

OnMessage = Callable[[int], Awaitable[None]]

C = TypeVar("C")
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])


async def defer_public(interaction: discord.Interaction) -> int | None:
    """Acknowledge now (Discord allows 3 s) with a public "thinking…" placeholder; returns its message id."""
    response = await interaction.response.defer(thinking=True)
    interaction.extras["public_defer_pending"] = True
    message_id = response.message_id if response is not None else None
    interaction.extras[RESPONSE_ID] = message_id
    return message_id


def _view_on_final(view: discord.ui.View | None, final: bool, working: discord.ui.View | None = None) -> dict[str, Any]:
    """Buttons go on the last page's last write only, so a reader never sees them on a half-written text.

    `working` (a Cancel button) goes on every write until then, and is taken off by the final one.
    """
    if final:
        return {"view": view} if view is not None or working is not None else {}
    return {"view": working} if working is not None else {}


class InteractionSink:
    """Streams into an interaction's response message, with follow-ups for further pages.

    `view`, if set, is attached to the last page when the stream finishes; `working`, if set, to every
    page while it is written (and taken off when it finishes); `on_message` hears of each page's message
    id (the last one carries the "still writing" status).

    An interaction's token answers for 15 minutes. A request that waited longer (a long line for the
    engine) finds it expired (401, `50027`): the rest of the stream goes to the channel as ordinary
    messages, after one that names who asked, so the result is delivered all the same.
    """

    def __init__(
        self, interaction: discord.Interaction, view: discord.ui.View | None = None, on_message: OnMessage | None = None
    ) -> None:
        self._interaction = interaction
        self.view = view
        self.working: discord.ui.View | None = None
        self.on_message = on_message
        self.last: Any = None
        self.expired = False
        self._moved: dict[Any, discord.Message] = {}  # a page written by token -> its channel copy
        self._working_on: list[Any] = []  # pages that show the working view

    def _extra(self, final: bool) -> dict[str, Any]:
        return _view_on_final(self.view, final, self.working)

    async def send(self, content: str, *, final: bool = False) -> Any:
        if final:
            await self._take_working_off()
        if not self.expired:
            try:
                handle = await self._send_by_token(content, final)
                self._track_working(handle, final)
                return handle
            except discord.HTTPException as exc:
                await self._expire(exc)
        self.last = await self._post(content, final)
        self._track_working(self.last, final)
        return self.last

    async def edit(self, handle: Any, content: str, *, final: bool = False) -> None:
        extra = self._extra(final)
        if final:
            await self._take_working_off(but=handle)
        self._track_working(handle, final)
        if isinstance(handle, discord.Message) and handle.id in {m.id for m in self._moved.values()}:
            await handle.edit(content=content, allowed_mentions=NO_PINGS, **extra)
            return
        if not self.expired:
            try:
                return await self._edit_by_token(handle, content, extra)
            except discord.HTTPException as exc:
                await self._expire(exc)
        key = handle if handle == ORIGINAL else handle.id
        if key in self._moved:
            await self._moved[key].edit(content=content, allowed_mentions=NO_PINGS, **extra)
        else:
            self._moved[key] = await self._post(content, final)

    async def delete(self, handle: Any) -> None:
        if handle in self._working_on:
            self._working_on.remove(handle)
        if handle == ORIGINAL:  # the first page is the response itself and always stays
            return
        key = handle.id
        moved = handle if key in {m.id for m in self._moved.values()} else self._moved.pop(key, None)
        if moved is not None:
            await moved.delete()
        elif not self.expired:
            await handle.delete()

    def _track_working(self, handle: Any, final: bool) -> None:
        if self.working is not None and not final and handle not in self._working_on:
            self._working_on.append(handle)

    async def _take_working_off(self, but: Any = None) -> None:
        """The earlier pages of a finished stream lose their Cancel button."""
        for handle in [h for h in self._working_on if h is not but]:
            try:
                if handle == ORIGINAL:
                    if not self.expired:
                        await self._interaction.edit_original_response(view=None)
                else:
                    await handle.edit(view=None)
            except discord.HTTPException:
                log.info("could not take the Cancel button off a finished page", exc_info=True)
        self._working_on.clear()

    async def _send_by_token(self, content: str, final: bool) -> Any:
        extra = self._extra(final)
        if self.last is None:
            self._interaction.extras["public_defer_pending"] = False
            message = await self._interaction.edit_original_response(
                content=content, allowed_mentions=NO_PINGS, **extra
            )
            self._interaction.extras[RESPONSE_ID] = message.id
            self.last = ORIGINAL
        else:
            message = await self._interaction.followup.send(content, wait=True, allowed_mentions=NO_PINGS, **extra)
            self.last = message
        if self.on_message is not None:
            await self.on_message(message.id)
        return self.last

    async def _edit_by_token(self, handle: Any, content: str, extra: dict[str, Any]) -> None:
        if handle == ORIGINAL:
            await self._interaction.edit_original_response(content=content, allowed_mentions=NO_PINGS, **extra)
        else:
            await handle.edit(content=content, allowed_mentions=NO_PINGS, **extra)

    async def _expire(self, exc: discord.HTTPException) -> None:
        """Re-raise anything but an expired token; for that, switch to the channel and say for whom."""
        if exc.code != INVALID_TOKEN:
            raise exc
        self.expired = True
        await announce_expired(self._interaction)

    async def _post(self, content: str, final: bool) -> discord.Message:
        message = await self._channel().send(content, allowed_mentions=NO_PINGS, **self._extra(final))
        self._moved[("page", message.id)] = message
        if self.on_message is not None:
            await self.on_message(message.id)
        return message

    def _channel(self) -> discord.abc.Messageable:
        return reply_channel(self._interaction)


def reply_channel(ix: discord.Interaction) -> discord.abc.Messageable:
    """The channel an interaction came from, even when the cache does not hold it."""
    return ix.channel or ix.client.get_partial_messageable(ix.channel_id or 0)  # type: ignore[return-value]


def response_id(ix: discord.Interaction) -> int | None:
    """The id of the interaction's own response: its "thinking…" placeholder or first page (recorded as they
    are made), else, for a button that edits its message in place, that message."""
    known = ix.extras.get(RESPONSE_ID)
    if known is not None:
        return int(known)
    return ix.message.id if ix.message is not None else None


async def announce_expired(ix: discord.Interaction) -> None:
    """Say in the channel, before the late answer itself, whose command it answers.

    The notice replies to the command's own response, and that response (which the expired token can no
    longer change, and which would otherwise say "in line…" forever) is edited through the channel, as
    Discord allows for a message that is not ephemeral, to point at the notice.
    """
    command = f"`/{ix.command.qualified_name}`" if ix.command else "their request"
    log.info("the token of %s in channel %s expired; answering in the channel", command, ix.channel_id)
    original = response_id(ix)
    channel = reply_channel(ix)
    reply: dict[str, Any] = {}
    if original is not None:
        reply["reference"] = discord.MessageReference(
            message_id=original, channel_id=ix.channel_id or 0, fail_if_not_exists=False
        )
    notice = await channel.send(EXPIRED.format(user=ix.user.id, command=command), allowed_mentions=NO_PINGS, **reply)
    if original is None:
        return
    stale = ix.client.get_partial_messageable(ix.channel_id or 0).get_partial_message(original)
    try:
        await stale.edit(content=MOVED.format(link=notice.jump_url), view=None, allowed_mentions=NO_PINGS)
    except discord.HTTPException:  # deleted, or ephemeral: the notice alone says it
        log.info("could not point the expired response %s at its answer", original, exc_info=True)


async def answer_deferred(ix: discord.Interaction, content: str) -> None:
    """Put the answer in place of a public "thinking…" placeholder (`defer_public`).

    A command that waited in the engine's line past its token's 15 minutes gets 401 `50027` there; then
    the answer goes to the channel as an ordinary message, after one that names who asked.
    """
    ix.extras["public_defer_pending"] = False
    try:
        await ix.edit_original_response(content=content, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        if exc.code != INVALID_TOKEN:
            raise
        await announce_expired(ix)
        await reply_channel(ix).send(content, allowed_mentions=NO_PINGS)


class ChannelSink:
    """Streams into new channel messages (for output not tied to one interaction, e.g. a narrator)."""

    def __init__(
        self, channel: discord.abc.Messageable, view: discord.ui.View | None = None, on_message: OnMessage | None = None
    ) -> None:
        self._channel = channel
        self.view = view
        self.working: discord.ui.View | None = None
        self.on_message = on_message
        self.last: discord.Message | None = None
        self._working_on: list[discord.Message] = []

    async def send(self, content: str, *, final: bool = False) -> discord.Message:
        extra = _view_on_final(self.view, final, self.working)
        if final:
            await self._take_working_off()
        self.last = await self._channel.send(content, allowed_mentions=NO_PINGS, **extra)
        if self.working is not None and not final:
            self._working_on.append(self.last)
        if self.on_message is not None:
            await self.on_message(self.last.id)
        return self.last

    async def edit(self, handle: discord.Message, content: str, *, final: bool = False) -> None:
        extra = _view_on_final(self.view, final, self.working)
        if final:
            await self._take_working_off(but=handle)
        await handle.edit(content=content, allowed_mentions=NO_PINGS, **extra)
        if self.working is not None and not final and handle not in self._working_on:
            self._working_on.append(handle)

    async def delete(self, handle: discord.Message) -> None:
        if handle in self._working_on:
            self._working_on.remove(handle)
        await handle.delete()

    async def _take_working_off(self, but: discord.Message | None = None) -> None:
        for handle in [h for h in self._working_on if h is not but]:
            await handle.edit(view=None)
        self._working_on.clear()


async def own_message(
    channel: discord.abc.Messageable,
    message_id: int | None,
    *,
    bot_id: int,
    since: float | None,
    matches: Callable[[discord.Message], bool],
) -> discord.Message | None:
    """A message the bot posted: by its id, or, when the id was never stored (the bot stopped between
    posting and storing), the first of the bot's messages since `since` that `matches`. None if gone."""
    if message_id is not None:
        try:
            return await channel.fetch_message(message_id)
        except discord.NotFound:
            return None
    after = None
    if since is not None:
        after = discord.Object(discord.utils.time_snowflake(dt.datetime.fromtimestamp(since - CLOCK_SLACK, dt.UTC)))
    async for message in channel.history(limit=SCAN_LIMIT, after=after, oldest_first=after is not None):
        if message.author.id == bot_id and matches(message):
            return message
    return None


def with_view(view: discord.ui.View | None) -> dict[str, Any]:
    """`view=` for a send only when there is one (discord.py's `send` takes no `view=None`)."""
    return {"view": view} if view is not None else {}


def custom_ids(message: discord.Message) -> list[str]:
    return [
        str(child.custom_id)
        for row in message.components
        if isinstance(row, discord.ActionRow)
        for child in row.children
        if getattr(child, "custom_id", None)
    ]


def renderer(sink: InteractionSink | ChannelSink, header: str = "") -> StreamRenderer:
    return StreamRenderer(sink, header=header, limit=MESSAGE_LIMIT)


def actor_of(interaction: discord.Interaction) -> Actor:
    user = interaction.user
    roles = [r.id for r in getattr(user, "roles", [])]
    manage = bool(interaction.permissions.manage_guild) if interaction.permissions else False
    return Actor.of(user.id, interaction.guild_id or 0, manage, roles)


def bot_of(interaction: discord.Interaction) -> Taleweaver:
    """The bot behind an interaction, typed: every cog runs inside `Taleweaver`."""
    client = interaction.client
    if not isinstance(client, Taleweaver):
        raise TypeError(f"Taleweaver's cogs run in a Taleweaver bot, not in {type(client).__name__}")
    return client


def cog_of(interaction: discord.Interaction, name: str, kind: type[C]) -> C:
    """A loaded cog by name, typed (`kind` may be a runtime-checkable Protocol of the handlers needed)."""
    cog = interaction.client.get_cog(name) if isinstance(interaction.client, commands.Bot) else None
    if not isinstance(cog, kind):
        raise RuntimeError(f"the {name} cog is not loaded")
    return cog


async def is_moderator(interaction: discord.Interaction) -> bool:
    return await bot_of(interaction).moderation.is_moderator(actor_of(interaction))


def guarded(callback: Handler) -> Handler:
    """Route a component/modal callback's errors to the bot's one error handler."""

    @functools.wraps(callback)
    async def wrapper(self: Any, interaction: discord.Interaction, *args: Any, **kwargs: Any) -> None:
        try:
            await callback(self, interaction, *args, **kwargs)
        except Exception as exc:
            await bot_of(interaction).report_error(interaction, exc)

    return cast(Handler, wrapper)


def channel_of(interaction: discord.Interaction) -> int:
    """The channel id; every slash command and button Taleweaver gets comes from a channel."""
    if interaction.channel_id is None:
        raise NotAllowed("Taleweaver works inside a channel.")
    return interaction.channel_id


def in_guild(interaction: discord.Interaction) -> int:
    """The server id; commands are registered guild-only, so this holds in practice."""
    if interaction.guild_id is None:
        raise NotAllowed("Taleweaver works inside servers, not in direct messages.")
    return interaction.guild_id


def place_of(
    interaction: discord.Interaction, channel: discord.abc.GuildChannel | discord.Thread | None = None
) -> Place:
    """Where settings are read for this interaction (or for `channel`): a thread reads its parent's too, and
    is age-restricted when its parent is."""
    target: Any = channel if channel is not None else interaction.channel
    guild_id = interaction.guild_id or 0
    if target is None:
        return Place(guild_id, interaction.channel_id)
    parent_id = getattr(target, "parent_id", None) if isinstance(target, discord.Thread) else None
    nsfw = bool(target.is_nsfw()) if hasattr(target, "is_nsfw") else bool(getattr(target, "nsfw", False))
    return Place(guild_id, target.id, parent_id, nsfw)


async def admit(
    interaction: discord.Interaction, feature: str, texts: dict[str, str] | None = None, *, generates: bool = False
) -> ConfigSnapshot:
    """The one check before a feature runs: Taleweaver active here, the feature on, the member's cooldown, the
    server's limit on texts being written (`generates`), and the gate on what they typed. Raises a user-facing
    error saying what to do; on success the use counts for the cooldown and the settings here are returned."""
    guild_id = in_guild(interaction)
    bot: Any = interaction.client
    settings: ConfigSnapshot = await bot.config.at(place_of(interaction))
    bot.limits.check(settings, guild_id, interaction.user.id, feature, generates=generates)
    if texts:
        context = SafetyContext(guild_id, interaction.channel_id, interaction.user.id, feature, settings)
        await bot.gate.screen(context, texts)
    bot.limits.used(guild_id, interaction.user.id, feature)
    return settings
