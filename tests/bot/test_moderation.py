"""bot.moderation: who is a moderator, and the audited settings they change."""

from __future__ import annotations

import pytest

from bot.errors import NotAllowed
from bot.moderation import Actor, ModerationService
from storage.db import Database

GUILD = 100
MOD_ROLE, OTHER_ROLE = 7000, 7001


@pytest.fixture
def moderation(db: Database) -> ModerationService:
    return ModerationService(db)


def actor(user_id: int = 1, *, manage_guild: bool = False, roles: tuple[int, ...] = (), guild: int = GUILD) -> Actor:
    return Actor.of(user_id, guild, manage_guild, roles)


async def test_manage_server_permission_makes_a_moderator(moderation: ModerationService) -> None:
    assert await moderation.is_moderator(actor(manage_guild=True))
    assert not await moderation.is_moderator(actor(roles=(MOD_ROLE, OTHER_ROLE)))  # no role configured yet


async def test_the_configured_role_makes_a_moderator(moderation: ModerationService) -> None:
    owner = actor(1, manage_guild=True)
    await moderation.set_moderator_role(owner, MOD_ROLE)
    assert (await moderation.settings(GUILD)).moderator_role_id == MOD_ROLE
    assert await moderation.is_moderator(actor(2, roles=(OTHER_ROLE, MOD_ROLE)))
    assert not await moderation.is_moderator(actor(3, roles=(OTHER_ROLE,)))
    assert not await moderation.is_moderator(actor(4, roles=(MOD_ROLE,), guild=GUILD + 1))  # another server
    await moderation.set_moderator_role(owner, None)
    assert not await moderation.is_moderator(actor(2, roles=(OTHER_ROLE, MOD_ROLE)))


async def test_setting_the_role_is_audited_with_before_and_after(moderation: ModerationService) -> None:
    await moderation.set_moderator_role(actor(1, manage_guild=True), MOD_ROLE)
    await moderation.set_moderator_role(actor(2, manage_guild=True), OTHER_ROLE)
    await moderation.set_moderator_role(actor(1, manage_guild=True), None)
    entries = await moderation.audit_log(GUILD)
    assert [(e.actor_id, e.action, e.detail) for e in entries] == [
        (1, "settings.moderator_role", {"before": OTHER_ROLE, "after": None}),
        (2, "settings.moderator_role", {"before": MOD_ROLE, "after": OTHER_ROLE}),
        (1, "settings.moderator_role", {"before": None, "after": MOD_ROLE}),
    ]
    assert await moderation.audit_log(GUILD + 1) == []


async def test_record_and_audit_log_limit(moderation: ModerationService) -> None:
    for i in range(20):
        await moderation.record(actor(5), "story.skip_turn", turn=i, reason="away 🌙")
    entries = await moderation.audit_log(GUILD, limit=3)
    assert [e.detail for e in entries] == [{"turn": t, "reason": "away 🌙"} for t in (19, 18, 17)]
    assert len(await moderation.audit_log(GUILD)) == 15


def test_actor_of_freezes_the_roles() -> None:
    a = Actor.of(1, GUILD, False, [MOD_ROLE, MOD_ROLE, OTHER_ROLE])
    assert a.role_ids == frozenset({MOD_ROLE, OTHER_ROLE})
    assert hash(a) == hash(Actor.of(1, GUILD, False, (OTHER_ROLE, MOD_ROLE)))


async def test_everyone_cannot_be_the_moderator_role(moderation: ModerationService) -> None:
    owner = actor(1, manage_guild=True)
    await moderation.set_moderator_role(owner, MOD_ROLE)
    with pytest.raises(NotAllowed, match="@everyone cannot be the moderator role"):
        await moderation.set_moderator_role(owner, GUILD)  # the @everyone role's id is the server's id
    assert (await moderation.settings(GUILD)).moderator_role_id == MOD_ROLE, "the old role stays"
    assert not await moderation.is_moderator(actor(2, roles=(GUILD,)))
    assert len(await moderation.audit_log(GUILD)) == 1, "a refused change is not audited"
