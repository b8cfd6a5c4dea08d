"""bot.safety: the gate's verdicts and audit entries, the prompt rules, and the usage limits."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.config import ConfigService
from bot.errors import NotAllowed
from bot.moderation import Actor
from bot.safety.gate import SafetyContext, SafetyGate, rating_rules
from bot.safety.limits import Busy, UsageLimits
from storage.db import Database

GUILD, CHANNEL, USER = 100, 200, 5
MOD = Actor.of(1, GUILD, True, ())


async def context(db: Database, **settings: str) -> SafetyContext:
    config = ConfigService(db)
    for key, value in settings.items():
        await config.set(MOD, key, value)
    return SafetyContext(GUILD, CHANNEL, USER, "poems", await config.resolve(GUILD, CHANNEL))


async def raw_audit(db: Database) -> list[tuple[str, str]]:
    async with (
        db.read() as conn,
        conn.execute("SELECT action, detail FROM audit_log WHERE action LIKE 'safety.%'") as c,
    ):
        return [(r[0], r[1]) for r in await c.fetchall()]


async def test_input_with_a_blocked_word_is_refused_and_logged_without_it(db: Database) -> None:
    ctx = await context(db, blocked_words="grue, dark lord")
    gate = SafetyGate(db)
    assert (await gate.check_input(ctx, "a quiet meadow")).allowed
    verdict = await gate.check_input(ctx, "the D\u200bark Lord wakes", field_name="topic")
    assert not verdict.allowed and "Your topic contains" in verdict.reason and verdict.rules == (1,)
    [(action, detail)] = await raw_audit(db)
    assert action == "safety.input_refused" and "dark" not in detail.casefold() and "#2:" in detail
    assert json.loads(detail)["channel"] == CHANNEL


async def test_output_is_redacted_or_withheld_as_the_moderators_chose(db: Database) -> None:
    gate = SafetyGate(db)
    ctx = await context(db, blocked_words="grue")
    verdict = await gate.check_output(ctx, "A grue lurks.")
    assert verdict.allowed and "grue" not in verdict.text and verdict.text.startswith("A ") and verdict.rules == (0,)
    assert gate.preview(ctx.settings, "A grue") != "A grue"
    withhold = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, blocked_output_action="withhold"))
    verdict = await gate.check_output(withhold, "A grue lurks.")
    assert not verdict.allowed and verdict.text == "" and "blocked" in verdict.reason
    actions = [a for a, d in await raw_audit(db) if "grue" not in d]
    assert actions == ["safety.output_redacted", "safety.output_withheld"]


async def test_extra_output_checks_plug_in(db: Database) -> None:
    seen: list[tuple[int, str]] = []

    async def automod(guild_id: int, text: str) -> str | None:
        seen.append((guild_id, text))
        return "It matches the server's AutoMod rule “No spoilers”." if "spoiler" in text else None

    gate = SafetyGate(db, output_checks=[automod])
    ctx = await context(db)
    assert (await gate.check_output(ctx, "fine text")).allowed
    verdict = await gate.check_output(ctx, "a spoiler!")
    assert not verdict.allowed and "No spoilers" in verdict.reason
    assert seen == [(GUILD, "fine text"), (GUILD, "a spoiler!")]


async def test_rating_rules_shape_the_prompt(db: Database) -> None:
    sfw = (await context(db, style_note="Keep it gothic.", language="French")).settings
    rules = rating_rules(sfw)
    assert "suitable for all ages" in rules and "Keep it gothic." in rules and "Write in French." in rules
    assert "Mature themes" in rating_rules(dataclasses.replace(sfw, content_rating="mature"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cooldown_says_the_time_left_and_concurrency_is_bounded(db: Database) -> None:
    settings = (await context(db, poems_cooldown="90", max_concurrent="1")).settings
    clock = Clock()
    limits = UsageLimits(clock)
    limits.admit(settings, GUILD, USER, "poems", generates=True)
    clock.now += 20
    with pytest.raises(NotAllowed, match=r"again in 1 min 10 s"):
        limits.admit(settings, GUILD, USER, "poems", generates=True)
    limits.admit(settings, GUILD, USER + 1, "poems", generates=True)  # another member has no cooldown
    clock.now += 70
    with limits.writing(GUILD):
        with pytest.raises(Busy, match="already has 1 texts"):
            limits.admit(settings, GUILD, USER, "poems", generates=True)
        limits.admit(settings, GUILD + 1, USER, "poems", generates=True)  # another server is not held up
    assert limits.running(GUILD) == 0
    limits.admit(settings, GUILD, USER, "poems", generates=True)


async def test_inactive_channels_and_features_turned_off(db: Database) -> None:
    base = (await context(db)).settings
    limits = UsageLimits()
    with pytest.raises(NotAllowed, match="not active in this channel"):
        limits.admit(dataclasses.replace(base, active=False), GUILD, USER, "poems", generates=False)
    with pytest.raises(NotAllowed, match="Lore is turned off"):
        limits.admit(dataclasses.replace(base, lore_enabled=False), GUILD, USER, "lore", generates=False)
    starters = dataclasses.replace(base, story_starter_role=77)
    with pytest.raises(NotAllowed, match="<@&77>"):
        limits.check_starter(starters, frozenset({1}), is_moderator=False)
    limits.check_starter(starters, frozenset({77}), is_moderator=False)
    limits.check_starter(starters, frozenset(), is_moderator=True)
