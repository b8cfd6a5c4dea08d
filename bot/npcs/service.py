"""Creating, editing and deleting NPCs, and who may: Discord-free, tested without Discord."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import aiosqlite

from bot.errors import Conflict, NotAllowed, NotFound
from bot.moderation import Actor, ModerationService
from bot.npcs.model import TEXT_LIMITS, Npc, check_list, check_name, check_text
from bot.text import InputProblem, clean_input, quote
from storage import guilds
from storage import npc_memory as memory_repo
from storage import npcs as repo
from storage.db import Database
from storage.npcs import ChannelWebhook, DuplicateName

MAX_NPCS = 200  # per server
MAX_PINS = 20  # per NPC per channel
PIN_LIMIT = 300
URL_LIMIT = 1000
GREETING_LIMIT = 4000


async def may_change(moderation: ModerationService, actor: Actor, npc: Npc | None) -> tuple[bool, bool]:
    """THE rule for who may create (npc is None) or edit/delete an NPC on a server.

    Default: anyone creates; the NPC's creator or a moderator edits and deletes. Returns (allowed, whether
    it takes a moderator's rights, which is then audited). When the /config registry lands, this is the one
    place to read a per-server setting (e.g. `npcs.create: anyone|moderators`).
    """
    if npc is None:
        return True, False
    if npc.creator_id == actor.user_id:
        return True, False
    moderator = await moderation.is_moderator(actor)
    return moderator, moderator


def check_avatar_url(url: str | None) -> str | None:
    """An avatar link Discord can fetch: http(s), a host, no spaces; None when not given."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    parsed = urlparse(url)
    if (
        len(url) > URL_LIMIT
        or parsed.scheme not in {"http", "https"}
        or not parsed.netloc
        or any(c.isspace() for c in url)
    ):
        raise InputProblem("The avatar must be a link starting with https:// (or an uploaded image), without spaces.")
    return url


def checked(npc: Npc) -> Npc:
    """Every card field cleaned and within its limit (the same checks for a form and an imported card)."""
    texts = {name: check_text(name, getattr(npc, name)) for name in TEXT_LIMITS}
    return npc.with_changes(
        name=check_name(npc.name),
        alternate_greetings=check_list("alternate greetings", npc.alternate_greetings, item_limit=GREETING_LIMIT),
        tags=check_list("tags", npc.tags, item_limit=100),
        avatar_url=check_avatar_url(npc.avatar_url),
        **texts,
    )


class NpcService:
    def __init__(self, db: Database, moderation: ModerationService, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._moderation = moderation
        self._now = clock

    async def create(self, actor: Actor, npc: Npc) -> Npc:
        """Store a new NPC on the actor's server (from a form or an imported card)."""
        npc = checked(npc).with_changes(creator_id=actor.user_id)
        allowed, _ = await may_change(self._moderation, actor, None)
        if not allowed:
            raise NotAllowed("On this server only moderators can create NPCs.")
        async with self._db.transaction() as conn:
            if await repo.count(conn, actor.guild_id) >= MAX_NPCS:
                raise Conflict(f"This server already has {MAX_NPCS} NPCs; delete some first.")
            try:
                return await repo.insert(conn, npc, guild_id=actor.guild_id, now=self._now())
            except DuplicateName:
                raise Conflict(f"This server already has an NPC called “{quote(npc.name, 80)}”.") from None

    async def edit(self, actor: Actor, current: str, /, **changes: Any) -> Npc:
        """Change some fields of an NPC (found by its `current` name)."""
        async with self._db.transaction() as conn:
            npc = await self._find(conn, actor.guild_id, current)
            by_moderator = await self._require(actor, npc, "edit")
            changed = checked(npc.with_changes(**changes))
            try:
                saved = await repo.update(conn, changed, now=self._now())
            except DuplicateName:
                raise Conflict(f"This server already has an NPC called “{quote(changed.name, 80)}”.") from None
            if by_moderator:
                await guilds.audit(conn, actor.guild_id, actor.user_id, "npc.edit", npc=npc.id, name=saved.name)
        return saved

    async def delete(self, actor: Actor, name: str) -> Npc:
        async with self._db.transaction() as conn:
            npc = await self._find(conn, actor.guild_id, name)
            by_moderator = await self._require(actor, npc, "delete")
            await repo.delete(conn, npc.id)
            if by_moderator:
                await guilds.audit(conn, actor.guild_id, actor.user_id, "npc.delete", npc=npc.id, name=npc.name)
        return npc

    async def pin(self, actor: Actor, name: str, channel_id: int, fact: str) -> Npc:
        """A fact the NPC never forgets in this channel (its creator or a moderator pins it)."""
        fact = clean_input(fact, field="fact", max_length=PIN_LIMIT)
        async with self._db.transaction() as conn:
            npc = await self._find(conn, actor.guild_id, name)
            await self._require(actor, npc, "pin facts for")
            if len(await memory_repo.pins(conn, npc.id, channel_id)) >= MAX_PINS:
                raise Conflict(f"{quote(npc.name, 80)} already holds {MAX_PINS} facts in this channel.")
            await memory_repo.pin(conn, npc.id, channel_id, fact, author_id=actor.user_id, now=self._now())
        return npc

    async def check_may_change(self, actor: Actor, name: str) -> Npc:
        """The NPC, if the actor may edit or delete it (checked before showing a form)."""
        npc = await self.get(actor.guild_id, name)
        await self._require(actor, npc, "change")
        return npc

    async def get(self, guild_id: int, name: str) -> Npc:
        async with self._db.read() as conn:
            return await self._find(conn, guild_id, name)

    async def for_guild(self, guild_id: int) -> list[Npc]:
        async with self._db.read() as conn:
            return await repo.for_guild(conn, guild_id)

    async def names(self, guild_id: int, typed: str) -> list[str]:
        async with self._db.read() as conn:
            return await repo.names_matching(conn, guild_id, typed)

    # --- the webhooks NPCs speak through (the cog talks to Discord; the ids are kept here) ----------
    async def webhook(self, channel_id: int) -> ChannelWebhook | None:
        async with self._db.read() as conn:
            return await repo.webhook(conn, channel_id)

    async def save_webhook(self, hook: ChannelWebhook) -> None:
        async with self._db.transaction() as conn:
            await repo.save_webhook(conn, hook, now=self._now())
            await repo.clear_fallback(conn, hook.channel_id)

    async def forget_webhook(self, channel_id: int, webhook_id: int) -> None:
        async with self._db.transaction() as conn:
            await repo.forget_webhook(conn, channel_id, webhook_id)

    async def note_fallback(self, guild_id: int, channel_id: int) -> bool:
        """True the first time NPCs had to speak as the bot in this channel (tell a moderator then)."""
        async with self._db.transaction() as conn:
            first = await repo.note_fallback(conn, guild_id, channel_id, now=self._now())
            if first:
                await guilds.audit(conn, guild_id, 0, "npc.webhook_denied", channel=channel_id)
        return first

    async def _find(self, conn: aiosqlite.Connection, guild_id: int, name: str) -> Npc:
        npc = await repo.by_name(conn, guild_id, name)
        if npc is None:
            raise NotFound(f"There is no NPC called “{quote(name, 80)}” on this server. `/npc list` shows them.")
        return npc

    async def _require(self, actor: Actor, npc: Npc, what: str) -> bool:
        allowed, by_moderator = await may_change(self._moderation, actor, npc)
        if not allowed:
            raise NotAllowed(f"Only {npc.name}'s creator or a moderator can {what} this NPC.")
        return by_moderator
