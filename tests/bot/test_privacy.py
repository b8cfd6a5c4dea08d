"""bot.privacy without Discord: who may delete, purge and forget, and what the audit log keeps."""

from __future__ import annotations

import pytest

from bot.errors import NotAllowed, NotFound
from bot.moderation import Actor, ModerationService
from bot.privacy import PrivacyService
from storage import poems, stories
from storage.db import Database

GUILD = 5


def actor(user_id: int, *, moderator: bool = False, guild: int = GUILD) -> Actor:
    return Actor.of(user_id, guild, moderator, ())


async def make_poem(db: Database, author: int, topic: str, guild: int = GUILD) -> int:
    async with db.transaction() as conn:
        return (
            await poems.create(
                conn, guild_id=guild, channel_id=1, author_id=author, topic=topic, form="haiku", mood="", language=""
            )
        ).id


async def test_delete_poem_rules_and_moderator_audit(db: Database) -> None:
    service = PrivacyService(db, ModerationService(db))
    mine = await make_poem(db, 1, "mine")
    with pytest.raises(NotAllowed):
        await service.delete_poem(mine, actor(2))
    with pytest.raises(NotFound):  # a poem of another server is not reachable from here
        await service.delete_poem(await make_poem(db, 2, "elsewhere", guild=6), actor(2, moderator=True))
    await service.delete_poem(mine, actor(1))
    with pytest.raises(NotFound):
        await service.delete_poem(mine, actor(1))

    theirs = await make_poem(db, 3, "secret topic")
    await service.delete_poem(theirs, actor(9, moderator=True))
    entry = (await ModerationService(db).audit_log(GUILD))[0]
    assert entry.action == "poem.delete" and entry.detail == {"poem_id": theirs, "author": 3}
    assert "secret topic" not in str(entry.detail), "the audit names the poem, never its text"


async def test_purge_needs_a_moderator_and_finds_the_channels_latest_story(db: Database) -> None:
    service = PrivacyService(db, ModerationService(db))
    async with db.transaction() as conn:
        story = await stories.create(
            conn, guild_id=GUILD, channel_id=7, starter_id=1, title="t", genre="g", premise="p", mode="free",
            turn_timeout=0, max_rounds=0, narrate_every=3, choices=0, now=1.0,
        )  # fmt: skip
    with pytest.raises(NotAllowed):
        await service.story_to_purge(7, actor(1))
    found = await service.story_to_purge(7, actor(2, moderator=True))
    assert found.id == story.id
    with pytest.raises(NotFound):
        await service.story_to_purge(7, actor(2, moderator=True, guild=99), story.id)
    result = await service.purge_story(found, actor(2, moderator=True))
    assert result.story_id == story.id
    with pytest.raises(NotFound):
        await service.purge_story(found, actor(2, moderator=True))
