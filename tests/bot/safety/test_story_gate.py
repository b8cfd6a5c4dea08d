"""The gate inside the real StoryService: narrations and recaps redacted or withheld, prompts and limits
shaped by the channel's settings (a scripted engine; the e2e tests use the real one)."""

from __future__ import annotations

import pytest

from bot.config import ConfigService, ConfigSnapshot, Place
from bot.moderation import ModerationService
from bot.safety.gate import SafetyGate
from bot.safety.matcher import REDACTION
from bot.stories import StoryService
from storage.db import Database
from tests.bot.test_stories import CHANNEL, GUILD, MOD, ScriptedEngine, actor, new_story


@pytest.fixture
def config(db: Database) -> ConfigService:
    return ConfigService(db)


@pytest.fixture
def gated(db: Database, config: ConfigService) -> tuple[StoryService, ScriptedEngine]:
    engine = ScriptedEngine()

    async def settings_at(guild_id: int, channel_id: int) -> ConfigSnapshot:
        return await config.resolve(guild_id, channel_id)

    service = StoryService(
        db,
        engine,
        ModerationService(db, config),
        gate=SafetyGate(db),
        settings_at=settings_at,  # type: ignore[arg-type]
    )
    return service, engine


async def test_a_narration_is_redacted_and_the_prompt_carries_the_settings(
    gated: tuple[StoryService, ScriptedEngine], config: ConfigService
) -> None:
    service, _ = gated
    mod = actor(MOD, manage=True)
    await config.set(mod, "blocked_words", "grue")
    await config.set(mod, "style_note", "Keep it gothic.")
    await config.set(mod, "max_length", "64", channel=Place(GUILD, CHANNEL))
    await config.set(mod, "temperature", "0.3")
    story = await new_story(service)
    await service.begin(story.id, mod)
    plan = await service.plan_narration(story.id)
    assert plan.sampling.max_tokens == 64 and plan.sampling.temperature == 0.3
    system = plan.messages[0]["content"]
    assert "Keep it gothic." in system and "suitable for all ages" in system
    outcome = await service.complete_narration(plan, ["A GRUE waits by the well."])
    assert outcome.turn is not None and REDACTION in outcome.turn.text and "GRUE" not in outcome.turn.text


async def test_a_withheld_narration_is_not_stored(
    gated: tuple[StoryService, ScriptedEngine], config: ConfigService
) -> None:
    service, _ = gated
    mod = actor(MOD, manage=True)
    await config.set(mod, "blocked_words", "grue")
    await config.set(mod, "blocked_output_action", "withhold")
    story = await new_story(service)
    await service.begin(story.id, mod)
    outcome = await service.complete_narration(await service.plan_narration(story.id), ["A grue waits."])
    assert outcome.turn is None and "rules" in outcome.note
    _, _, turns = await service.transcript(CHANNEL)
    assert all("grue" not in t.text for t in turns)


async def test_a_recap_passes_the_gate(gated: tuple[StoryService, ScriptedEngine], config: ConfigService) -> None:
    service, engine = gated
    mod = actor(MOD, manage=True)
    await config.set(mod, "blocked_words", "grue")
    story = await new_story(service)
    await service.begin(story.id, mod)
    engine.answers = ["Previously, a grue was seen."]
    _, text = await service.recap(CHANNEL)
    assert "grue" not in text and REDACTION in text
