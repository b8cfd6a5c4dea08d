"""bot.npcs.story: an NPC answering a player's turn inside a story round, on a real SQLite file.

The model is a scripted stand-in (canned text, unit tests only); tests/e2e/test_npc_stories.py drives the
same path through the real engine and the loopback Discord."""

from __future__ import annotations

import pytest

from bot.moderation import ModerationService
from bot.npcs.conversation import ChannelRate, NpcConversation, NpcLine, RateLimited
from bot.npcs.model import Npc
from bot.npcs.service import NpcService
from bot.npcs.story import StoryNpcs, addressee, mentioned
from bot.stories.export import export_story
from bot.stories.prompts import render_turn, round_instruction
from bot.stories.service import StoryService
from storage.db import Database
from storage.turns import Turn
from tests.bot.test_stories import ADA, BO, CHANNEL, CY, ScriptedEngine, actor, all_turns, narrate, started
from tests.support.clock import FakeClock

Stage = tuple[StoryService, StoryNpcs, ScriptedEngine, Npc]
MIRA, MIRABEL, ORRIN = Npc(name="Mira"), Npc(name="Mira Bel"), Npc(name="Orrin")


def test_a_turn_addresses_the_npc_it_starts_with_else_the_first_it_names() -> None:
    scene = [MIRA, MIRABEL, ORRIN]
    assert addressee(scene, "Orrin, what of Mira?") is ORRIN
    assert addressee(scene, "I ask mira bel about the map.") is MIRABEL, "longest name at the same place"
    assert addressee(scene, "Ada hands ORRIN the map, then nods to Mira.") is ORRIN, "the first named"
    assert mentioned(scene, "Miranda and Orrington walk on.") is None, "whole names only"
    assert addressee([], "Mira, hello") is None


def test_npc_turns_read_as_dialogue_in_the_prompt_and_the_round_reminder() -> None:
    npc_turn = Turn(7, 1, 3, 1, "npc", None, "West, past the dunes.", 5, 4, 0.0, None, speaker="Mira")
    player = Turn(6, 1, 2, 1, "player", ADA, "Mira, where now?", 5, 3, 0.0, None)
    assert render_turn(npc_turn, {ADA: "Ada"}) == "Mira: West, past the dunes."
    reminder = round_instruction([player, npc_turn], {ADA: "Ada"}, final=False)
    assert "- Ada: Mira, where now?\n- Mira: West, past the dunes." in reminder


@pytest.fixture
async def stage(db: Database, clock: FakeClock) -> Stage:
    engine = ScriptedEngine()
    service = StoryService(db, ModerationService(db), clock=clock)
    mira = await NpcService(db, ModerationService(db)).create(actor(ADA), Npc(name="Mira"))
    talk = NpcConversation(db, engine, rate=ChannelRate(2, 60.0), clock=clock)  # type: ignore[arg-type]
    await talk.add_to_scene(actor(ADA), CHANNEL, "Mira")
    return service, StoryNpcs(db, talk, clock), engine, mira


async def test_an_addressed_npc_answers_and_the_narrator_reads_it(db: Database, stage: Stage) -> None:
    service, npcs, engine, mira = stage
    await started(service)
    outcome = await service.add_turn(CHANNEL, ADA, "Mira, where does the road go?")
    assert outcome.turn is not None
    assert await npcs.addressee(CHANNEL, outcome.turn.text) == mira
    engine.answers = ["Mira: West, past the dunes.\nAda: Thanks!"]
    line = await npcs.answer(outcome.story, outcome.turn, "Ada", mira)
    assert line.text == "West, past the dunes.", "cleaned: never speaks for the player"
    kept = await npcs.record(outcome.story, outcome.turn, line)
    assert kept is not None and (kept.kind, kept.speaker, kept.author_id, kept.round) == ("npc", "Mira", None, 1)
    for user in (BO, CY):
        await service.add_turn(CHANNEL, user, "They walk.")
    plan = await service.plan_narration(outcome.story.id)
    user_prompt = plan.messages[-1]["content"]
    assert "Mira: West, past the dunes." in user_prompt and "- Mira: West, past the dunes." in user_prompt
    assert [t.kind for t in await all_turns(db, outcome.story.id)][-4:] == ["player", "npc", "player", "player"]


async def test_undo_removes_the_npc_answer_with_the_turn_it_answered(db: Database, stage: Stage) -> None:
    service, npcs, engine, mira = stage
    story = await started(service)
    outcome = await service.add_turn(CHANNEL, ADA, "Mira, a riddle?")
    assert outcome.turn is not None
    engine.answers = ["What walks on salt?"]
    await npcs.record(story, outcome.turn, await npcs.answer(story, outcome.turn, "Ada", mira))
    undone = await service.undo(CHANNEL, actor(ADA))
    assert undone.turn is not None and undone.turn.id == outcome.turn.id
    assert [t.kind for t in await all_turns(db, story.id)] == ["narrator"], "both gone, the opening stays"
    assert undone.next_player is not None and undone.next_player.user_id == ADA, "Ada writes again"


async def test_withheld_late_or_rate_limited_answers_are_not_kept(db: Database, stage: Stage) -> None:
    service, npcs, engine, mira = stage
    story = await started(service)
    outcome = await service.add_turn(CHANNEL, ADA, "Mira?")
    assert outcome.turn is not None
    engine.answers = ["Ada: I answer for myself.", "Ada: again."]  # cleaned to nothing, twice
    silent = await npcs.answer(story, outcome.turn, "Ada", mira)
    assert silent.text == "" and await npcs.record(story, outcome.turn, silent) is None
    with pytest.raises(RateLimited):  # two lines a minute in this test's channel
        engine.answers = ["One.", "Two."]
        await npcs.answer(story, outcome.turn, "Ada", mira)
        await npcs.answer(story, outcome.turn, "Ada", mira)
    await service.add_turn(CHANNEL, BO, "Bo acts.")
    await service.add_turn(CHANNEL, CY, "Cy acts.")
    await narrate(service, story.id, "The round ends.")
    late = await npcs.record(story, outcome.turn, NpcLine(mira, CHANNEL, "Too late."))
    assert late is None, "the story moved past that round"
    assert "npc" not in [t.kind for t in await all_turns(db, story.id)]


async def test_export_shows_npc_turns_as_dialogue(db: Database, stage: Stage) -> None:
    service, npcs, engine, mira = stage
    story = await started(service)
    outcome = await service.add_turn(CHANNEL, ADA, "Mira, speak.")
    assert outcome.turn is not None
    engine.answers = ["The *salt* remembers."]
    await npcs.record(story, outcome.turn, await npcs.answer(story, outcome.turn, "Ada", mira))
    story, players, turns = await service.transcript(CHANNEL)
    markdown = export_story(story, players, turns, "markdown").content.decode()
    assert "**Mira:** The *salt* remembers." in markdown
    credits = markdown.split("## Credits")[1]
    assert "- Ada — 1 turn\n" in credits and "Mira" not in credits, "an NPC's line is not a player's turn"
    screenplay = export_story(story, players, turns, "fountain").content.decode()
    assert "@MIRA\nThe *salt* remembers." in screenplay
    assert await npcs.as_characters(story.id) is False
    await npcs.set_as_characters(story.id, True)
    assert await npcs.as_characters(story.id) is True
