"""How an NPC's line reaches the channel: through the channel's webhook, under the NPC's name and avatar.

One webhook per (parent) channel, created on demand and kept in SQLite; a thread (or a forum post) is
written to through its parent's webhook with `thread`. If the webhook was deleted (10015 Unknown
Webhook) it is recreated once and the line sent again. Without Manage Webhooks the bot posts the line
itself, the NPC's name in bold, and tells the channel's moderators once (a notice in that channel, and
an `npc.webhook_denied` audit entry). Every send uses `AllowedMentions.none()`; text is split at 2,000
characters.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.npcs.model import Npc, speaking_name
from bot.npcs.service import NpcService
from bot.text import MESSAGE_LIMIT, echo, split_message
from cogs.ui import NO_PINGS
from storage.npcs import ChannelWebhook

log = logging.getLogger(__name__)

WEBHOOK_NAME = "Taleweaver NPCs"
UNKNOWN_WEBHOOK = 10015
FALLBACK_NOTICE = (
    "⚠️ NPCs speak as Taleweaver in this channel: the bot is missing the **Manage Webhooks** permission "
    "here. A moderator can grant it (channel settings → Permissions → Taleweaver) so NPCs post under their "
    "own names and avatars. (Shown once per channel.)"
)

Speakable = discord.TextChannel | discord.Thread


class NpcVoice:
    def __init__(self, bot: discord.Client, service: NpcService) -> None:
        self.bot = bot
        self._service = service
        self._making: dict[int, asyncio.Lock] = {}  # per channel: two lines at once make one webhook

    async def speak(self, channel: Speakable, npc: Npc, text: str) -> list[int]:
        """Post the NPC's line; returns the ids of the messages it took."""
        body = echo(text)
        chunks = split_message(body, MESSAGE_LIMIT)
        if not chunks:
            return []
        parent = channel.parent if isinstance(channel, discord.Thread) else channel
        thread = channel if isinstance(channel, discord.Thread) else None
        if not isinstance(parent, discord.TextChannel | discord.ForumChannel):  # forum posts: the forum's webhook
            return await self._as_bot(channel, npc, body)
        try:
            hook = await self._webhook(parent)
            try:
                return await self._send(hook, npc, chunks, thread)
            except discord.NotFound as exc:
                if exc.code != UNKNOWN_WEBHOOK:
                    raise
                log.info("the NPC webhook of channel %s was deleted; making a new one", parent.id)
                await self._service.forget_webhook(parent.id, hook.id)
                return await self._send(await self._webhook(parent), npc, chunks, thread)
        except discord.Forbidden:
            return await self._as_bot(channel, npc, body)

    async def _webhook(self, parent: discord.TextChannel | discord.ForumChannel) -> discord.Webhook:
        async with self._making.setdefault(parent.id, asyncio.Lock()):
            stored: ChannelWebhook | None = await self._service.webhook(parent.id)
            if stored is not None:
                return discord.Webhook.partial(stored.webhook_id, stored.token, client=self.bot)
            hook = await parent.create_webhook(name=WEBHOOK_NAME, reason="Taleweaver NPCs speak through it")
            assert hook.token is not None  # a webhook the bot created comes with its token
            await self._service.save_webhook(ChannelWebhook(parent.id, parent.guild.id, hook.id, hook.token))
            return hook

    async def _send(
        self, hook: discord.Webhook, npc: Npc, chunks: list[str], thread: discord.Thread | None
    ) -> list[int]:
        ids = []
        for chunk in chunks:
            message = await hook.send(
                chunk,
                username=speaking_name(npc.name),
                avatar_url=npc.avatar_url or discord.utils.MISSING,
                allowed_mentions=NO_PINGS,
                wait=True,
                thread=thread if thread is not None else discord.utils.MISSING,
            )
            ids.append(message.id)
        return ids

    async def _as_bot(self, channel: Speakable, npc: Npc, body: str) -> list[int]:
        """No webhook allowed: the bot's own messages, the NPC's name in bold; moderators are told once."""
        if await self._service.note_fallback(channel.guild.id, channel.id):
            await channel.send(FALLBACK_NOTICE, allowed_mentions=NO_PINGS)
        name = f"**{echo(discord.utils.escape_markdown(npc.name))}**: "
        ids = []
        for chunk in split_message(name + body, MESSAGE_LIMIT):
            ids.append((await channel.send(chunk, allowed_mentions=NO_PINGS)).id)
        return ids
