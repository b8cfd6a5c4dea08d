"""Lore: world facts per channel that the narrator is reminded of when their keywords come up."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiosqlite

from bot.errors import Conflict, NotAllowed, NotFound
from bot.moderation import Actor, ModerationService
from bot.text import InputProblem, clean_input
from storage import guilds
from storage import lore as repo
from storage import stories as story_repo
from storage.db import Database
from storage.lore import LoreEntry

CONTENT_LIMIT = 500
KEY_LIMIT = 40
MAX_KEYS = 10
MAX_ENTRIES = 100


def parse_keys(raw: str) -> list[str]:
    """`"Castle Dun, dragon ,the king"` -> ["castle dun", "dragon", "the king"]: lower-cased, deduplicated."""
    keys = []
    for part in raw.split(","):
        key = " ".join(part.split()).lower()
        if key and key not in keys:
            if len(key) > KEY_LIMIT:
                raise InputProblem(f"The key “{key[:20]}…” is longer than {KEY_LIMIT} characters.")
            keys.append(key)
    if not keys:
        raise InputProblem("Give at least one key, e.g. `dragon, Ember`: the entry is used when a key comes up.")
    if len(keys) > MAX_KEYS:
        raise InputProblem(f"An entry can have at most {MAX_KEYS} keys.")
    return keys


class LoreService:
    def __init__(self, db: Database, moderation: ModerationService, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._moderation = moderation
        self._now = clock

    async def add(self, actor: Actor, channel_id: int, keys: str, content: str, priority: int = 100) -> LoreEntry:
        parsed = parse_keys(clean_input(keys, field="keys", max_length=MAX_KEYS * (KEY_LIMIT + 2), multiline=False))
        content = clean_input(content, field="lore entry", max_length=CONTENT_LIMIT)
        async with self._db.transaction() as conn:
            by_moderator = await self._require_keeper(conn, actor, channel_id)
            if await repo.count(conn, channel_id) >= MAX_ENTRIES:
                raise Conflict(f"This channel already has {MAX_ENTRIES} lore entries; remove some first.")
            entry = await repo.add(
                conn, guild_id=actor.guild_id, channel_id=channel_id, keys=parsed, content=content,
                priority=priority, author_id=actor.user_id, now=self._now(),
            )  # fmt: skip
            await self._audit(conn, by_moderator, actor, "lore.add", entry)
        return entry

    async def entries(self, channel_id: int) -> list[LoreEntry]:
        async with self._db.read() as conn:
            return await repo.for_channel(conn, channel_id)

    async def remove(self, actor: Actor, channel_id: int, entry_id: int) -> LoreEntry:
        async with self._db.transaction() as conn:
            by_moderator = await self._require_keeper(conn, actor, channel_id)
            entry = await repo.remove(conn, channel_id, entry_id)
            if entry is None:
                raise NotFound(f"This channel has no lore entry #{entry_id}. `/lore list` shows them.")
            await self._audit(conn, by_moderator, actor, "lore.remove", entry)
        return entry

    async def _require_keeper(self, conn: aiosqlite.Connection, actor: Actor, channel_id: int) -> bool:
        """Moderators keep the lore; so does whoever started the story running in this channel.

        True when it takes a moderator's rights: the change is then audited.
        """
        story = await story_repo.open_in_channel(conn, channel_id)
        if story is not None and story.starter_id == actor.user_id:
            return False
        if not await self._moderation.is_moderator(actor):
            raise NotAllowed("Only moderators, or the starter of this channel's story, can change its lore.")
        return True

    async def _audit(
        self, conn: aiosqlite.Connection, by_moderator: bool, actor: Actor, action: str, entry: LoreEntry
    ) -> None:
        if by_moderator:
            await guilds.audit(
                conn, actor.guild_id, actor.user_id, action,
                channel=entry.channel_id, entry=entry.id, keys=list(entry.keys), content=entry.content,
            )  # fmt: skip
