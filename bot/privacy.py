"""Deleting output, purging a story, and forgetting a user. Knows nothing of Discord.

Each removal is one transaction followed by a WAL checkpoint, so the removed text is gone from the
database file itself (see storage/privacy.py), not merely hidden.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.errors import NotAllowed, NotFound
from bot.moderation import Actor, ModerationService
from storage import feedback as feedback_repo
from storage import guilds
from storage import poems as poem_repo
from storage import privacy as repo
from storage import stories as story_repo
from storage.db import Database
from storage.poems import Poem
from storage.privacy import StoryPurge, UserErasure
from storage.stories import Story

log = logging.getLogger(__name__)


class PrivacyService:
    def __init__(self, db: Database, moderation: ModerationService) -> None:
        self._db = db
        self._moderation = moderation

    async def delete_poem(self, poem_id: int, actor: Actor) -> Poem:
        """Whoever asked for a poem may delete it, and a moderator any poem (audited, without its text)."""
        is_moderator = await self._moderation.is_moderator(actor)
        async with self._db.transaction() as conn:
            poem = await poem_repo.get(conn, poem_id)
            if poem is None or poem.guild_id != actor.guild_id:
                raise NotFound(f"Poem #{poem_id} is already gone.")
            if poem.author_id != actor.user_id and not is_moderator:
                raise NotAllowed("Only the person who asked for this poem, or a moderator, can delete it.")
            await repo.delete_poem(conn, poem_id)
            if poem.author_id != actor.user_id:
                await guilds.audit(
                    conn, actor.guild_id, actor.user_id, "poem.delete", poem_id=poem_id, author=poem.author_id
                )
        await self._forget_pages()
        return poem

    async def story_to_purge(self, channel_id: int, actor: Actor, story_id: int | None = None) -> Story:
        """The story a moderator means: by id on this server, or else this channel's latest one."""
        if not await self._moderation.is_moderator(actor):
            raise NotAllowed("Only moderators can purge a story (Manage Server, or the moderator role).")
        async with self._db.read() as conn:
            if story_id is not None:
                story = await story_repo.get(conn, story_id)
            else:
                story = await story_repo.latest_in_channel(conn, channel_id)
        if story is None or story.guild_id != actor.guild_id:
            raise NotFound("There is no such story on this server (purged already?).")
        return story

    async def purge_story(self, story: Story, actor: Actor, *, with_lore: bool = False) -> StoryPurge:
        """Delete a story's stored text for good. The caller stops its timers and narration first."""
        if not await self._moderation.is_moderator(actor):
            raise NotAllowed("Only moderators can purge a story (Manage Server, or the moderator role).")
        async with self._db.transaction() as conn:
            if await story_repo.get(conn, story.id) is None:
                raise NotFound("That story was purged already.")
            result = await repo.purge_story(
                conn,
                story.id,
                guild_id=story.guild_id,
                channel_id=story.channel_id,
                since=story.created_at,
                with_lore=with_lore,
            )
            await guilds.audit(
                conn, actor.guild_id, actor.user_id, "story.purge", channel=story.channel_id, story=story.id,
                turns=result.turns, lore=result.lore,
            )  # fmt: skip
        await self._forget_pages()
        return result

    async def footprint(self, user_id: int) -> UserErasure:
        async with self._db.read() as conn:
            return await repo.user_footprint(conn, user_id)

    async def forget_user(self, user_id: int) -> UserErasure:
        """Remove what a user wrote or asked for, on every server; anonymise what others built on."""
        async with self._db.transaction() as conn:
            feedback = await feedback_repo.forget_user(conn, user_id)  # first: it finds their stories' rows
            result = replace(await repo.erase_user(conn, user_id), feedback=feedback.total)
        await self._forget_pages()
        return result

    async def _forget_pages(self) -> None:
        if not await self._db.checkpoint():
            log.warning("the WAL checkpoint after a removal did not complete; it completes at the next one")
