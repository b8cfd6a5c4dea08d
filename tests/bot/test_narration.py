"""bot.stories.narration.Narrator: the events a narration yields and the policy behind them.

A scripted stand-in for EngineClient answers (unit tests); the story itself is real, on a SQLite file.
The real engine drives the narrator in test_stories.py::test_a_story_narrated_by_the_real_engine and
end to end through Discord in tests/e2e.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator

import pytest

from bot.llm.client import EngineBusy, Finished, Queued, Sampling, TextDelta
from bot.llm.types import ChatMessage
from bot.moderation import ModerationService
from bot.stories.narration import (
    Choosing,
    ContinuationDone,
    NarrationDone,
    NarrationEvent,
    NarrationFailed,
    Narrator,
    VoteChoices,
)
from bot.stories.phases import Phase
from bot.stories.service import StoryService
from storage.db import Database
from tests.bot.test_stories import ADA, BO, CY, ScriptedEngine, actor, narrate, new_story, started, write
from tests.support.clock import FakeClock


class QueuedEngine(ScriptedEngine):
    """Reports a place in line before each streamed answer; can fail, and notices a consumer leaving."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_with: Exception | None = None
        self.closed = 0

    async def stream(
        self, messages: list[ChatMessage], *, tenant: str, sampling: Sampling
    ) -> AsyncIterator[Queued | TextDelta | Finished]:
        if self.fail_with is not None:
            raise self.fail_with
        try:
            yield Queued(2, 5.0)
            async for event in super().stream(messages, tenant=tenant, sampling=sampling):
                yield event
        finally:
            self.closed += 1


@pytest.fixture
def engine_() -> QueuedEngine:
    return QueuedEngine()


@pytest.fixture
async def service(db: Database) -> StoryService:
    return StoryService(db, ModerationService(db), clock=FakeClock())


@pytest.fixture
def narrator(service: StoryService, engine_: QueuedEngine) -> Narrator:
    return Narrator(service, engine_)  # type: ignore[arg-type]  # a scripted stand-in for EngineClient


async def opening(service: StoryService, narrator: Narrator, **changes: object) -> list[NarrationEvent]:
    story = await new_story(service, **changes)
    await service.begin(story.id, actor(ADA))
    plan = await narrator.plan(story.id)
    assert plan is not None
    return [event async for event in narrator.narrate(plan)]


async def test_a_narration_yields_its_place_in_line_the_text_so_far_and_the_stored_part(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    engine_.answers = ["The wind rises over the salt.\nAda: I will speak for Ada."]
    events = await opening(service, narrator)
    assert isinstance(events[1], Queued) and (events[1].position, events[1].eta) == (2, 5.0)
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts[0] == "" and texts[-1] == "The wind rises over the salt."  # cleaned as it comes
    assert all(len(a) <= len(b) for a, b in itertools.pairwise(texts))
    done = events[-1]
    assert isinstance(done, NarrationDone) and not done.cut_short
    assert done.outcome.turn is not None and done.outcome.turn.text == "The wind rises over the salt."
    assert done.outcome.story.phase == Phase.TURNS and done.outcome.next_player is not None
    assert len(engine_.requests) == 1


async def test_an_unusable_take_gets_exactly_one_more_try(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    engine_.answers = ["Ada: only a player's line.", "The caravan halts."]
    events = await opening(service, narrator)
    assert len(engine_.requests) == 2
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert all("The caravan halts.".startswith(t) for t in texts)  # the player's line was never shown
    done = events[-1]
    assert isinstance(done, NarrationDone) and done.outcome.turn is not None
    assert done.outcome.turn.text == "The caravan halts."


async def test_two_unusable_takes_store_nothing_and_hold_the_story(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    engine_.answers = ["", "Bo: me again."]
    events = await opening(service, narrator)
    assert len(engine_.requests) == 2  # no third try
    done = events[-1]
    assert isinstance(done, NarrationDone) and done.outcome.turn is None
    assert done.outcome.story.phase == Phase.HELD and "/story retry" in done.outcome.note


async def test_an_engine_failure_is_a_failed_event_with_the_users_reason(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    engine_.fail_with = EngineBusy("queue full", retry_after=7)
    events = await opening(service, narrator)
    failed = events[-1]
    assert isinstance(failed, NarrationFailed)
    assert "busy" in failed.reason and "7 seconds" in failed.reason
    assert failed.outcome.story.phase == Phase.HELD and failed.reason in failed.outcome.note


async def test_leaving_early_closes_the_engine_stream(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    plan = await narrator.plan(story.id)
    assert plan is not None
    engine_.answers = ["A long, long opening that the consumer will not wait for."]
    async with contextlib.aclosing(narrator.narrate(plan)) as events:
        async for event in events:
            if isinstance(event, TextDelta) and event.text:
                break  # as the runner does when Discord refuses a message
    assert engine_.closed == 1
    assert (await service.view_of(story.id)).story.phase == Phase.NARRATING  # nothing stored


async def test_versions_for_a_vote_get_a_second_round_then_open_the_vote(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    await started(service, choices=2)
    await write(service, ADA, BO, CY)
    plan = await narrator.plan((await service.view(200)).story.id)
    assert plan is not None and plan.batched
    engine_.answers = ["Same.", "Same.", "One.", "Two."]
    events = [event async for event in narrator.narrate(plan)]
    assert isinstance(events[0], Choosing) and len(engine_.requests) == 2
    final = events[-1]
    assert isinstance(final, VoteChoices) and final.outcome.vote is not None
    assert final.outcome.vote.options == ("Same.", "One.")  # distinct versions, as many as were asked for


async def test_versions_that_stay_alike_fall_back_to_one_continuation(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    await started(service, choices=2)
    await write(service, ADA, BO, CY)
    plan = await narrator.plan((await service.view(200)).story.id)
    assert plan is not None
    engine_.answers = ["Same."] * 4
    events = [event async for event in narrator.narrate(plan)]
    assert len(engine_.requests) == 2  # one second round, no more
    final = events[-1]
    assert isinstance(final, NarrationDone) and final.outcome.turn is not None
    assert final.outcome.turn.text == "Same." and final.outcome.vote is None


async def test_a_plan_for_a_story_that_moved_on_is_none(service: StoryService, narrator: Narrator) -> None:
    story = await started(service)
    assert await narrator.plan(story.id) is None  # its turns phase does not wait for the narrator


async def test_a_continuation_shows_the_kept_text_first_and_stores_the_whole(
    service: StoryService, narrator: Narrator, engine_: QueuedEngine
) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    cut = await narrate(service, story.id, "The snow falls. A lantern flick")
    assert cut.turn is not None
    plan, turn = await service.plan_continuation(cut.turn.id, actor(BO))
    engine_.answers = ["Its light wakes the inn."]
    events = [event async for event in narrator.continue_part(plan, turn)]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts[0] == turn.text and all(t.startswith(turn.text) for t in texts)
    done = events[-1]
    assert isinstance(done, ContinuationDone) and not done.cut_short
    assert done.turn.text.startswith(turn.text) and done.turn.text.endswith("Its light wakes the inn.")


async def test_best_of_n_drafts_post_one_usable_take_after_one_request_without_a_vote(
    db: Database, engine_: QueuedEngine
) -> None:
    service = StoryService(db, ModerationService(db), clock=FakeClock(), narration_drafts=3)
    narrator = Narrator(service, engine_)  # type: ignore[arg-type]  # a scripted stand-in for EngineClient
    await started(service)
    await write(service, ADA, BO, CY)
    plan = await narrator.plan((await service.view(200)).story.id)
    assert plan is not None and plan.batched and plan.choices == 1
    scene = "The caravan crests the last dune and the salt flats open below, white as bone under the moon."
    engine_.answers = ["Ada: I lead the way.", scene, scene]  # one usable take: Ada's line is cut away
    events = [event async for event in narrator.narrate(plan)]
    assert isinstance(events[0], Choosing)
    assert len(engine_.requests) == 1, "one usable take is enough when nothing is put to a vote"
    final = events[-1]
    assert isinstance(final, NarrationDone) and final.outcome.vote is None
    assert final.outcome.turn is not None and final.outcome.turn.text == scene
