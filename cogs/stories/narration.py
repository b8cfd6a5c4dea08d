"""Showing what the narrator writes: its events rendered into Discord messages, with Cancel and ratings.

`StoryRunner` decides when a story is narrated; this renders one narration (streamed, or the notice
while versions for a vote are written) and a continuation, from `bot.stories.narration.Narrator`'s
events. Nothing here decides what is written or stored.
"""

from __future__ import annotations

from collections.abc import Coroutine
from contextlib import aclosing
from typing import Any

import discord

from bot.app import Taleweaver
from bot.cancel import CancelScope
from bot.errors import Conflict
from bot.llm.client import Queued, TextDelta
from bot.stories.narration import (
    Choosing,
    ContinuationDone,
    ContinuationFailed,
    NarrationDone,
    NarrationFailed,
    Narrator,
    VoteChoices,
)
from bot.stories.phases import Phase
from bot.stories.results import NarrationPlan, Outcome
from bot.text import echo
from cogs.controls import cancel_view
from cogs.feedback.views import add_rating
from cogs.stories.render import narrator_header
from cogs.stories.views import continue_view
from cogs.ui import NO_PINGS, ChannelSink, InteractionSink, OnMessage, renderer, with_view
from storage.turns import Turn

IMAGINING = "🪶 *The narrator is imagining possible futures…*"
CUT_SHORT = "✂️ *Time ran out, so the narrator stopped here.*"
CANCELLED = "🛑 *Cancelled by <@{user}>. Nothing was saved.*"
GO_ON = f"{CUT_SHORT} **Continue** asks for the rest."


class NarrationShows:
    def __init__(self, bot: Taleweaver, narrator: Narrator) -> None:
        self.bot = bot
        self.narrator = narrator
        self._continuing: set[int] = set()  # narrator turns being continued right now

    async def stream(self, channel: discord.abc.Messageable, plan: NarrationPlan, on_message: OnMessage) -> Outcome:
        """Render one streamed narration into a new message: its text as it comes, then how it ended.
        Its players (or a moderator) may press Cancel while it waits or writes; then nothing is saved."""
        sink = ChannelSink(channel, on_message=on_message)
        sink.working = cancel_view("story", plan.story.id)
        stream = renderer(sink, narrator_header(plan.story))
        scope, final = self._cancel_scope(plan), None
        async with scope:
            await stream.start()
            async with aclosing(self.narrator.narrate(plan)) as events:
                async for event in events:
                    if isinstance(event, Queued):
                        await stream.queued(event.position, event.eta)
                    elif isinstance(event, TextDelta):
                        await stream.update(event.text)
                    else:
                        final = event
                        break
        if final is None:  # Cancel was pressed (the scope took its cancellation): nothing was saved
            await stream.finish(note=CANCELLED.format(user=scope.cancelled_by))
            return await self.narrator.fail(plan.story.id, "The narration was cancelled.")
        if isinstance(final, NarrationFailed):
            if sink.last is not None:  # the reason and what to do follow in the story's notice
                await stream.finish(note="⚠️ *The narrator stopped here. Nothing was saved.*")
            return final.outcome
        assert isinstance(final, NarrationDone)
        outcome, cut = final.outcome, final.cut_short
        if outcome.turn is not None:
            if cut and outcome.turn.kind == "narrator" and outcome.story.phase != Phase.ENDED:
                sink.view = continue_view(outcome.turn.id)
            sink.view = add_rating(sink.view, await self._narration_item(plan, outcome.turn))
            await stream.finish(outcome.turn.text, note=(GO_ON if sink.view else CUT_SHORT) if cut else "")
        elif sink.last is not None:
            await stream.finish(note="⚠️ *Nothing was saved.*")
        return outcome

    async def choices(self, channel: discord.abc.Messageable, plan: NarrationPlan, on_message: OnMessage) -> Outcome:
        """While the versions for a vote are written, a notice (with Cancel) says so; a single version is
        shown, a vote is posted by `apply`."""
        notice: discord.Message | None = None
        scope, final = self._cancel_scope(plan), None
        try:
            async with scope:
                async with aclosing(self.narrator.narrate(plan)) as events:
                    async for event in events:
                        if isinstance(event, Choosing):
                            notice = await channel.send(
                                IMAGINING, view=cancel_view("story", plan.story.id), allowed_mentions=NO_PINGS
                            )
                            await on_message(notice.id)
                        elif not isinstance(event, Queued | TextDelta):
                            final = event
                            break
        finally:
            if notice is not None:  # the versions are written (or cancelled): the notice goes first
                await _quietly(notice.delete())
        if final is None:  # Cancel was pressed (the scope took its cancellation): nothing was saved
            await channel.send(CANCELLED.format(user=scope.cancelled_by), allowed_mentions=NO_PINGS)
            return await self.narrator.fail(plan.story.id, "The narration was cancelled.")
        if isinstance(final, VoteChoices) and final.outcome.vote is not None:
            # the exact prompt, for the preference pairs the vote's result makes
            await self.bot.feedback.vote_drafted(final.outcome.vote.id, plan.story.guild_id, plan.messages)
        if isinstance(final, NarrationDone):
            turn = final.outcome.turn
            if turn is not None and turn.kind == "narrator":  # no vote after all: show it
                view = add_rating(None, await self._narration_item(plan, turn))
                await channel.send(
                    f"{narrator_header(plan.story)}{echo(turn.text)}"[:2000],
                    allowed_mentions=NO_PINGS,
                    **with_view(view),
                )
        assert isinstance(final, NarrationDone | VoteChoices | NarrationFailed)
        return final.outcome

    async def continuation(self, interaction: discord.Interaction, plan: NarrationPlan, turn: Turn) -> None:
        """Stream the rest of a narration that time cut short into its own message, then store it."""
        if turn.id in self._continuing:
            raise Conflict("The narrator is already going on with this part.")
        self._continuing.add(turn.id)
        sink = InteractionSink(interaction)
        stream = renderer(sink, narrator_header(turn.round))
        try:
            async with aclosing(self.narrator.continue_part(plan, turn)) as events:
                async for event in events:
                    if isinstance(event, Queued):
                        await stream.queued(event.position, event.eta)
                    elif isinstance(event, TextDelta):
                        await stream.update(event.text)
                    elif isinstance(event, ContinuationFailed):
                        sink.view = continue_view(turn.id) if event.can_retry else None
                        again = " Press **Continue** to try again." if sink.view else ""
                        await stream.finish(event.turn.text, note=f"⚠️ {event.reason}{again}")
                    elif isinstance(event, ContinuationDone):
                        sink.view = continue_view(turn.id) if event.cut_short else None
                        await stream.finish(event.turn.text, note=GO_ON if event.cut_short else "")
        finally:
            self._continuing.discard(turn.id)

    async def _narration_item(self, plan: NarrationPlan, turn: Turn) -> int | None:
        """Record a narration the story kept, with its prompt, for rating; returns the item's id."""
        if turn.kind != "narrator" or not turn.text:
            return None
        item = await self.bot.feedback.written(
            "narration", plan.story.guild_id, plan.messages, turn.text, turn_id=turn.id
        )
        return item.id

    def _cancel_scope(self, plan: NarrationPlan) -> CancelScope:
        """The story's players (and whoever started it) may cancel its narration, as may moderators."""
        owners = {p.user_id for p in plan.players} | {plan.story.starter_id}
        return self.bot.cancels.scope("story", plan.story.id, owners)


async def _quietly(coro: Coroutine[Any, Any, Any]) -> None:
    try:
        await coro
    except discord.HTTPException:
        pass
