"""The narrator at work: asks the engine, applies the story's policy, and yields events the cog renders.

Like `bot.poems.PoemService.compose`, `narrate` is an async generator of events — the place in line
(`Queued`), the text so far (`TextDelta`, already cleaned), and one final event: `NarrationDone` (with
the stored outcome), `VoteChoices` (a vote between versions was opened), or `NarrationFailed` (with a
user-facing reason; nothing was saved and the story waits for `/story retry`). The policy lives here:
an unusable take gets one more try, versions for a vote get a second round before the story falls
back to a single continuation, and the rolling summary is refreshed after a narration.

A consumer that stops iterating (Discord refused a message, the story was cancelled) closes the
engine's stream, which aborts the generation.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from bot.errors import Conflict, NotFound, describe
from bot.llm.client import EngineClient, EngineError, Finished, Queued, Sampling, TextDelta
from bot.stories.phases import Phase
from bot.stories.prompts import clean_narration, join_continuation
from bot.stories.results import NarrationPlan, Outcome
from bot.stories.service import StoryService
from storage.stories import Story
from storage.turns import Turn

log = logging.getLogger(__name__)

CUT_BY_TIME = ("length", "timeout")  # finish reasons after which unfinished sentences are trimmed


@dataclass(frozen=True)
class Choosing:
    """Several versions are being written for the players to vote on (nothing streams meanwhile)."""


@dataclass(frozen=True)
class NarrationDone:
    """The narration is settled. `outcome.turn` is the stored part (its text cleaned), or None when the
    story moved on while the narrator wrote; `cut_short`: time ran out and the part can be continued."""

    outcome: Outcome
    cut_short: bool = False


@dataclass(frozen=True)
class VoteChoices:
    """The versions differ: a vote between them was opened (`outcome.vote`)."""

    outcome: Outcome


@dataclass(frozen=True)
class NarrationFailed:
    """The engine failed; nothing was saved. `reason` is for the players; `outcome` holds the story."""

    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class ContinuationDone:
    turn: Turn  # the part with its continuation added
    cut_short: bool


@dataclass(frozen=True)
class ContinuationFailed:
    turn: Turn  # the part as it was kept
    reason: str
    can_retry: bool  # the engine failed (try again); a story that moved on cannot


NarrationEvent = Queued | TextDelta | Choosing | NarrationDone | VoteChoices | NarrationFailed
ContinuationEvent = Queued | TextDelta | ContinuationDone | ContinuationFailed


class Narrator:
    def __init__(self, stories: StoryService, engine: EngineClient) -> None:
        self.stories = stories
        self._engine = engine

    async def plan(self, story_id: int) -> NarrationPlan | None:
        """What to narrate now, or None when the story moved on (ended, undone) before the narrator began."""
        try:
            return await self.stories.plan_narration(story_id)
        except (Conflict, NotFound):
            return None

    async def narrate(self, plan: NarrationPlan) -> AsyncGenerator[NarrationEvent, None]:
        """Write the planned narration (or the versions for a vote) and store it; see the module doc."""
        try:
            if plan.batched:
                yield Choosing()
                yield await self._choices(plan)
                return
            async with aclosing(self._one(plan)) as events:
                async for event in events:
                    yield event
        except EngineError as exc:
            reason = describe(exc) or "The narrator stumbled."
            yield NarrationFailed(await self.stories.fail_narration(plan.story.id, reason), reason)

    async def fail(self, story_id: int, reason: str) -> Outcome:
        """The narration could not be shown (Discord refused it): nothing is saved, the story is held."""
        return await self.stories.fail_narration(story_id, reason)

    async def after(self, outcome: Outcome) -> None:
        """Once a narration is stored: fold old turns into the summary if they take up too much room."""
        if outcome.turn is not None and outcome.turn.kind == "narrator" and outcome.story.phase != Phase.ENDED:
            await self.refresh_summary(outcome.story.id)

    async def continue_part(self, plan: NarrationPlan, turn: Turn) -> AsyncGenerator[ContinuationEvent, None]:
        """Go on with a part that time cut short; the text shown includes what was already there."""
        try:
            text, finish = "", "stop"
            async with aclosing(self._stream(plan, before=turn.text)) as events:
                async for event in events:
                    if isinstance(event, Finished):
                        finish = event.reason
                    elif isinstance(event, _Raw):
                        text = event.text
                    else:
                        yield event
            extended = await self.stories.extend_narration(plan, turn, text, truncated=finish in CUT_BY_TIME)
        except (EngineError, Conflict) as exc:  # what was kept stays as it was
            yield ContinuationFailed(turn, describe(exc) or "The narrator stumbled.", isinstance(exc, EngineError))
            return
        yield ContinuationDone(extended, cut_short=finish == "timeout")

    async def recap(self, channel_id: int) -> tuple[Story, str]:
        """A "previously on…" recap, written fresh from the summary and the latest turns (not stored)."""
        plan = await self.stories.recap_request(channel_id)
        result = await self._engine.complete(plan.messages, tenant=str(plan.story.guild_id), sampling=plan.sampling)
        return plan.story, await self.stories.screen_output(plan, clean_narration(result.text, []))

    async def refresh_summary(self, story_id: int) -> bool:
        """Fold the oldest unsummarised turns into the rolling summary, once they take up too much room."""
        request = await self.stories.summary_due(story_id)
        if request is None:
            return False
        result = await self._engine.complete(
            request.messages, tenant=str(request.story.guild_id), sampling=Sampling(max_tokens=220, temperature=0.3)
        )
        summary = clean_narration(result.text, [])
        return bool(summary) and await self.stories.store_summary(request, summary)

    async def model_name(self) -> str:
        """The model's name for credits (an export), or "" when the engine does not say."""
        try:
            return (await self._engine.health()).model
        except EngineError:
            return ""

    # --- the policy ---------------------------------------------------------------------------------
    async def _one(self, plan: NarrationPlan) -> AsyncGenerator[NarrationEvent, None]:
        """One continuation, streamed. If the model wrote nothing usable (a small model sometimes only
        echoes its prompt or starts speaking for a player), it gets one more try."""
        text, finish = "", "stop"
        for attempt in range(2):
            async with aclosing(self._stream(plan)) as events:
                async for event in events:
                    if isinstance(event, Finished):
                        finish = event.reason
                    elif isinstance(event, _Raw):
                        text = event.text
                    else:
                        yield event
            if attempt or self.stories.narration_options(plan, [text], finish in CUT_BY_TIME):
                break
            text, finish = "", "stop"
        outcome = await self.stories.complete_narration(plan, [text], truncated=finish in CUT_BY_TIME)
        yield NarrationDone(outcome, cut_short=finish == "timeout" and outcome.turn is not None)

    async def _choices(self, plan: NarrationPlan) -> NarrationDone | VoteChoices:
        """Several drafts in one batched request: the best-scored are put to a vote, or (NARRATION_DRAFTS,
        no vote) the best one is posted. A small model sometimes repeats itself or writes nothing usable,
        so it gets one more go before the story falls back to a single continuation."""
        wanted = 2 if plan.choices > 1 else 1
        texts: list[str] = []
        truncated = False
        for _ in range(2):
            completion = await self._engine.complete(
                plan.messages, tenant=str(plan.story.guild_id), sampling=plan.sampling
            )
            texts += completion.texts
            truncated = truncated or "length" in completion.finish_reasons
            if len(self.stories.narration_options(plan, texts, truncated)) >= wanted:
                break
        outcome = await self.stories.complete_narration(plan, texts, truncated=truncated)
        return VoteChoices(outcome) if outcome.vote is not None else NarrationDone(outcome)

    async def _stream(
        self, plan: NarrationPlan, before: str = ""
    ) -> AsyncGenerator[Queued | TextDelta | Finished | _Raw, None]:
        """One generation: the place in line, the cleaned text so far (after `before`), the raw text, and
        how it finished. Starts with the text as it stands, so a second try clears the first."""
        yield TextDelta(before)
        raw = ""
        async with aclosing(
            self._engine.stream(plan.messages, tenant=str(plan.story.guild_id), sampling=plan.sampling)
        ) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    raw += event.text
                    yield _Raw(raw)
                    shown = join_continuation(before, self.stories.preview(plan, clean_narration(raw, plan.players)))
                    if await self.stories.objection(plan.story.guild_id, shown):  # never shown; refused on saving
                        yield TextDelta(before)
                        return
                    yield TextDelta(shown)
                elif isinstance(event, Finished | Queued):
                    yield event


@dataclass(frozen=True)
class _Raw:
    """The model's text so far, uncleaned (kept inside the narrator: it is what gets stored)."""

    text: str
