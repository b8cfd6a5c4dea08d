"""bot.lore: parsing keys, who may keep a channel's lore, and its limits."""

from __future__ import annotations

import pytest

from bot.errors import Conflict, NotAllowed, NotFound
from bot.lore import KEY_LIMIT, MAX_ENTRIES, MAX_KEYS, LoreService, parse_keys
from bot.moderation import Actor, ModerationService
from bot.text import InputProblem
from storage import stories as story_repo
from storage.db import Database

GUILD, CHANNEL, OTHER_CHANNEL = 100, 200, 201
STARTER, PLAYER, MOD = 1, 2, 99
MOD_ROLE = 555
NOW = 1_700_000_000.0


def actor(user_id: int, *, manage: bool = False, roles: tuple[int, ...] = ()) -> Actor:
    return Actor.of(user_id, GUILD, manage, roles)


@pytest.fixture
async def lore_service(db: Database) -> LoreService:
    return LoreService(db, ModerationService(db), clock=lambda: NOW)


async def open_story(db: Database, channel_id: int = CHANNEL) -> story_repo.Story:
    async with db.transaction() as conn:
        return await story_repo.create(
            conn, guild_id=GUILD, channel_id=channel_id, starter_id=STARTER, title="t", genre="g", premise="p",
            mode="round-robin", turn_timeout=0, max_rounds=0, narrate_every=3, choices=0, now=NOW,
        )  # fmt: skip


# --- keys -------------------------------------------------------------------------------------------


def test_keys_are_trimmed_lower_cased_and_deduplicated() -> None:
    assert parse_keys("Castle Dun, dragon ,the   King") == ["castle dun", "dragon", "the king"]
    assert parse_keys("Dragon, dragon,DRAGON , ,") == ["dragon"]
    assert parse_keys("Ëmber") == ["ëmber"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "at least one key"),
        (" , ,, ", "at least one key"),
        (", ".join(f"k{i}" for i in range(MAX_KEYS + 1)), f"at most {MAX_KEYS} keys"),
        ("dragon, " + "x" * (KEY_LIMIT + 1), f"longer than {KEY_LIMIT} characters"),
    ],
)
def test_bad_keys_are_refused(raw: str, message: str) -> None:
    with pytest.raises(InputProblem, match=message):
        parse_keys(raw)


def test_limits_are_inclusive() -> None:
    assert len(parse_keys(", ".join(f"k{i}" for i in range(MAX_KEYS)))) == MAX_KEYS
    assert parse_keys("x" * KEY_LIMIT) == ["x" * KEY_LIMIT]
    assert parse_keys("a, A, a ,b, B") == ["a", "b"]  # duplicates do not count against the limit


# --- who may keep the lore --------------------------------------------------------------------------


async def test_moderators_keep_the_lore(lore_service: LoreService, db: Database) -> None:
    entry = await lore_service.add(actor(MOD, manage=True), CHANNEL, "Dragon, Ember", "  Dragons fear salt.  ", 7)
    assert (entry.keys, entry.content, entry.priority, entry.channel_id, entry.guild_id) == (
        ("dragon", "ember"), "Dragons fear salt.", 7, CHANNEL, GUILD,
    )  # fmt: skip
    assert (entry.author_id, entry.created_at) == (MOD, NOW)
    with pytest.raises(NotAllowed, match="Only moderators"):
        await lore_service.add(actor(PLAYER, roles=(MOD_ROLE,)), CHANNEL, "well", "The well is cursed.")
    await ModerationService(db).set_moderator_role(actor(MOD, manage=True), MOD_ROLE)
    await lore_service.add(actor(PLAYER, roles=(MOD_ROLE,)), CHANNEL, "well", "The well is cursed.")
    assert [e.content for e in await lore_service.entries(CHANNEL)] == ["Dragons fear salt.", "The well is cursed."]


async def test_the_starter_of_the_channels_story_keeps_its_lore(lore_service: LoreService, db: Database) -> None:
    with pytest.raises(NotAllowed):
        await lore_service.add(actor(STARTER), CHANNEL, "dragon", "No story yet, no keeper.")
    story = await open_story(db)
    entry = await lore_service.add(actor(STARTER), CHANNEL, "dragon", "Dragons fear salt.")
    with pytest.raises(NotAllowed):
        await lore_service.add(actor(PLAYER), CHANNEL, "dragon", "Players are not keepers.")
    with pytest.raises(NotAllowed):
        await lore_service.add(actor(STARTER), OTHER_CHANNEL, "dragon", "Only in their own channel.")
    with pytest.raises(NotAllowed):
        await lore_service.remove(actor(PLAYER), CHANNEL, entry.id)
    async with db.transaction() as conn:
        await story_repo.update(conn, story.id, phase="ended")
    with pytest.raises(NotAllowed):  # the story is over: so is the starter's say
        await lore_service.remove(actor(STARTER), CHANNEL, entry.id)


async def test_entry_text_is_checked(lore_service: LoreService) -> None:
    mod = actor(MOD, manage=True)
    with pytest.raises(InputProblem, match="lore entry is empty"):
        await lore_service.add(mod, CHANNEL, "dragon", " \u200b ")
    with pytest.raises(InputProblem, match="limit is 500"):
        await lore_service.add(mod, CHANNEL, "dragon", "x" * 501)
    with pytest.raises(InputProblem, match="keys"):
        await lore_service.add(mod, CHANNEL, "k" * 500, "Too many characters of keys.")
    with pytest.raises(InputProblem, match="at least one key"):
        await lore_service.add(mod, CHANNEL, ",,,", "No keys.")
    assert await lore_service.entries(CHANNEL) == []


async def test_a_channel_holds_at_most_max_entries(lore_service: LoreService) -> None:
    mod = actor(MOD, manage=True)
    for i in range(MAX_ENTRIES):
        await lore_service.add(mod, CHANNEL, f"key{i}", f"Fact {i}.")
    with pytest.raises(Conflict, match=f"already has {MAX_ENTRIES} lore entries"):
        await lore_service.add(mod, CHANNEL, "one", "Too many.")
    await lore_service.add(mod, OTHER_CHANNEL, "one", "Other channels have their own room.")
    first = (await lore_service.entries(CHANNEL))[0]
    await lore_service.remove(mod, CHANNEL, first.id)
    await lore_service.add(mod, CHANNEL, "one", "Room again.")


async def test_remove_returns_the_entry_and_then_it_is_gone(lore_service: LoreService) -> None:
    mod = actor(MOD, manage=True)
    entry = await lore_service.add(mod, CHANNEL, "dragon", "Dragons fear salt.")
    with pytest.raises(NotFound, match=f"no lore entry #{entry.id}"):
        await lore_service.remove(mod, OTHER_CHANNEL, entry.id)
    assert await lore_service.remove(mod, CHANNEL, entry.id) == entry
    with pytest.raises(NotFound):
        await lore_service.remove(mod, CHANNEL, entry.id)
    assert await lore_service.entries(CHANNEL) == []


async def test_a_moderators_lore_changes_are_audited_and_the_starters_are_not(
    lore_service: LoreService, db: Database
) -> None:
    moderation, mod = ModerationService(db), actor(MOD, manage=True)
    await open_story(db)
    own = await lore_service.add(actor(STARTER), CHANNEL, "well", "The well is cursed.")
    await lore_service.remove(actor(STARTER, manage=True), CHANNEL, own.id)  # their own story's lore
    assert await moderation.audit_log(GUILD) == []
    entry = await lore_service.add(mod, CHANNEL, "Dragon, Ember", "Dragons fear salt.")
    await lore_service.remove(mod, CHANNEL, entry.id)
    with pytest.raises(NotFound):
        await lore_service.remove(mod, CHANNEL, entry.id)
    detail = {"channel": CHANNEL, "entry": entry.id, "keys": ["dragon", "ember"], "content": "Dragons fear salt."}
    assert [(e.actor_id, e.action, e.detail) for e in await moderation.audit_log(GUILD)] == [
        (MOD, "lore.remove", detail),
        (MOD, "lore.add", detail),
    ]
