"""The background life of stories: turn and vote timers, and showing what the narrator writes.

One runner for all channels. Each story has at most one timer task and one narration task; both are
re-created from the database after a restart (`restore`), so a story resumes exactly where it was.
Every task gets a done-callback that logs failures: a story's background work never dies silently.

A restart also tidies what the previous run left half done: a narration cut off mid-stream is marked
as interrupted, and an open vote whose message id was never stored is found by its buttons (or
posted again), so that closing it later also closes its message.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Coroutine
from typing import Any

import discord

from bot.app import Taleweaver
from bot.stories.export import export_story
from bot.stories.narration import (
    Narrator,
)
from bot.stories.phases import Phase
from bot.stories.results import Outcome, VoteResult
from bot.stories.service import StoryService
from bot.streaming import interrupted
from bot.text import echo, quote
from cogs.feedback.views import add_rating
from cogs.stories.narration import IMAGINING, NarrationShows
from cogs.stories.render import NARRATOR, vote_embed, vote_result
from cogs.stories.views import vote_view
from cogs.ui import NO_PINGS, custom_ids, own_message, with_view
from storage.stories import Story
from storage.unfinished import Unfinished
from storage.votes import Vote

log = logging.getLogger(__name__)

INTERRUPTED = "⚠️ *Interrupted: the bot restarted before the narrator finished. Nothing was saved.*"


class StoryRunner:
    def __init__(self, bot: Taleweaver, service: StoryService, narrator: Narrator) -> None:
        self.bot = bot
        self.service = service
        self.narrator = narrator
        self.shows = NarrationShows(bot, narrator)
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._narrations: dict[int, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.stopping = False  # shutting down: no timer or narration is started any more

    # --- lifecycle ----------------------------------------------------------------------------------
    async def restore(self) -> int:
        """Re-arm every open story from what the database says. Returns how many were resumed."""
        await self.tidy_left_over()
        stories = await self.service.open_stories()
        for story in stories:
            if story.phase == Phase.VOTING:
                await self._restore_vote_message(story)
            self.arm(story)
            if story.phase == Phase.NARRATING and not story.paused:
                self.narrate(story.id)
        if stories:
            log.info("resumed %d open stories", len(stories))
        return len(stories)

    async def tidy_left_over(self) -> None:
        """Mark the narrations left unfinished (by a crash, or cancelled at shutdown) as interrupted."""
        for record in await self.bot.unfinished.left_over("narration", "notice"):
            await self._tidy(record)

    def stop(self) -> None:
        """At shutdown: no new work, and the timers stop (their deadlines stay stored; `restore` re-arms
        them). Narrations under way go on; the bot gives them a grace period."""
        self.stopping = True
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()

    async def close(self) -> None:
        tasks = [*self._timers.values(), *self._narrations.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def cancel(self, story_id: int) -> None:
        """Stop a story's timer and narration (e.g. it ended). A cancelled narration saves nothing."""
        for table in (self._timers, self._narrations):
            task = table.pop(story_id, None)
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    def busy(self, story_id: int) -> bool:
        task = self._narrations.get(story_id)
        return task is not None and not task.done()

    # --- reacting to outcomes -----------------------------------------------------------------------
    async def apply(self, result: Outcome | VoteResult | None) -> None:
        """Tell the channel what happened and start whatever comes next."""
        if result is None:
            return
        if isinstance(result, VoteResult):
            await self._announce_vote_result(result)
            result = result.outcome
        story = result.story
        channel = await self.channel(story.channel_id)
        if channel is not None and result.cancelled_vote is not None:
            await self._close_vote_message(channel, story, result.cancelled_vote)
        if channel is not None:
            await self._announce(channel, result)
        if story.phase == Phase.ENDED:
            self.cancel(story.id)
            if channel is not None:
                await self.post_ending(channel, story)
            return
        self.arm(story)
        if result.narrate:
            self.narrate(story.id)

    async def _announce(self, channel: discord.abc.Messageable, outcome: Outcome) -> None:
        story = outcome.story
        if outcome.skipped:
            await channel.send(
                f"⏭️ Time ran out for **{quote(outcome.skipped.name, 40)}**, so their turn was skipped.",
                allowed_mentions=NO_PINGS,
            )
        if outcome.note:
            await channel.send(f"ℹ️ {outcome.note}", allowed_mentions=NO_PINGS)
        if outcome.vote:
            await self._post_vote(channel, story, outcome.vote)
        if outcome.next_player and not outcome.narrate:
            player = outcome.next_player
            due = f" Time runs out <t:{int(story.deadline)}:R>." if story.deadline else ""
            # The one deliberate ping: only the player whose turn it is.
            await channel.send(
                f"🎲 <@{player.user_id}>, it is your turn (round {story.round}): `/story add`, "
                f"or `/story write` for a long one.{due}",
                allowed_mentions=discord.AllowedMentions(
                    users=[discord.Object(player.user_id)], everyone=False, roles=False
                ),
            )

    async def _post_vote(self, channel: discord.abc.Messageable, story: Story, vote: Vote) -> None:
        """The vote's row is stored before its message is posted; if the bot dies before the message id
        is stored, `_vote_message` finds the message by its buttons after the restart."""
        view = await self.service.view_of(story.id)
        message = await channel.send(
            embed=vote_embed(story, vote, len(view.ballots), len(view.players)),
            view=vote_view(vote.id, len(vote.options)),
            allowed_mentions=NO_PINGS,
        )
        await self.service.set_vote_message(vote.id, message.id)

    async def _vote_message(self, channel: discord.abc.Messageable, vote: Vote) -> discord.Message | None:
        """The vote's message: by its stored id, or found by its buttons (and then stored)."""
        button = f"story:vote:{vote.id}:0"
        message = await own_message(
            channel, vote.message_id, bot_id=self._bot_id(), since=vote.created_at,
            matches=lambda m: button in custom_ids(m),
        )  # fmt: skip
        if message is not None and vote.message_id is None:
            await self.service.set_vote_message(vote.id, message.id)
        return message

    async def _restore_vote_message(self, story: Story) -> None:
        """An open vote needs its message: found by id or by its buttons, or else posted again."""
        vote = (await self.service.view_of(story.id)).vote
        channel = await self.channel(story.channel_id)
        if vote is None or channel is None:
            return
        try:
            if await self._vote_message(channel, vote) is None:
                await self._post_vote(channel, story, vote)
        except discord.HTTPException:
            log.warning("could not restore the vote message of story %s", story.id, exc_info=True)

    async def _close_vote_message(self, channel: discord.abc.Messageable, story: Story, vote: Vote) -> None:
        try:
            message = await self._vote_message(channel, vote)
            if message is not None:
                closed = vote_view(vote.id, len(vote.options), closed=True)
                await message.edit(embed=vote_embed(story, vote, 0, 0), view=closed)
        except discord.HTTPException:
            log.info("could not update the vote message of story %s", story.id)

    async def _announce_vote_result(self, result: VoteResult) -> None:
        story = result.outcome.story
        channel = await self.channel(story.channel_id)
        if channel is None:
            return
        await self._close_vote_message(channel, story, result.vote)
        turn = result.outcome.turn
        item = await self.bot.feedback.vote_closed(
            result.vote.id, story.guild_id, result.vote.options, result.winner, turn.id if turn else None
        )
        text = echo(result.vote.options[result.winner])
        await channel.send(
            f"{vote_result(result.winner, result.tally)}\n\n📖 **The narrator**\n\n{text}"[:2000],
            allowed_mentions=NO_PINGS,
            **with_view(add_rating(None, item.id if item else None)),
        )

    async def post_ending(self, channel: discord.abc.Messageable, story: Story) -> None:
        story_, players, turns = await self.service.transcript(story.channel_id)
        file = export_story(story_, players, turns, "markdown", await self.model_name())
        await channel.send(
            f"🏁 **The End** of *{quote(story.title, 120)}*. The whole story is attached.",
            file=discord.File(io.BytesIO(file.content), filename=file.filename),
            allowed_mentions=NO_PINGS,
        )

    # --- timers -------------------------------------------------------------------------------------
    def arm(self, story: Story) -> None:
        if self.stopping:
            return
        old = self._timers.pop(story.id, None)
        if old is not None and old is not asyncio.current_task():
            old.cancel()
        if story.deadline is None or story.paused or story.phase not in (Phase.TURNS, Phase.VOTING):
            return
        self._timers[story.id] = self._spawn(self._timer(story.id, story.deadline), f"story-{story.id}-timer")

    async def _timer(self, story_id: int, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.time()))
        self._timers.pop(story_id, None)
        await self.apply(await self.service.expire(story_id, deadline))

    # --- narration ----------------------------------------------------------------------------------
    def narrate(self, story_id: int) -> None:
        if self.busy(story_id) or self.stopping:
            return
        self._narrations[story_id] = self._spawn(self._narrate(story_id), f"story-{story_id}-narration")

    async def _narrate(self, story_id: int) -> None:
        plan = await self.narrator.plan(story_id)
        if plan is None:
            self._narrations.pop(story_id, None)
            return  # the story moved on (ended, undone) before the narrator started
        channel = await self.channel(plan.story.channel_id)
        if channel is None:
            return
        try:
            kind = "notice" if plan.batched else "narration"
            # Counted against the server's limit on texts written at once (a story is never refused its narrator).
            with self.bot.limits.writing(plan.story.guild_id):
                async with self.bot.unfinished.track(kind, story_id, plan.story.channel_id) as tracker:
                    if plan.batched:
                        outcome = await self.shows.choices(channel, plan, tracker.placed)
                    else:
                        outcome = await self.shows.stream(channel, plan, tracker.placed)
        except discord.HTTPException:
            log.exception("Discord refused a narration message in story %s", story_id)
            outcome = await self.narrator.fail(story_id, "Discord did not accept the narrator's message.")
        finally:
            self._narrations.pop(story_id, None)
        await self.apply(outcome)
        self._spawn(self.narrator.after(outcome), f"story-{story_id}-summary")

    async def _tidy(self, record: Unfinished) -> None:
        """After a restart: a narration cut off mid-stream says so; a leftover notice goes."""
        notice = record.kind == "notice"

        def unfinished(message: discord.Message) -> bool:  # a narration, not a poem in the same channel
            if notice:
                return message.content == IMAGINING
            return message.content.startswith(NARRATOR) and interrupted(message.content, INTERRUPTED) is not None

        channel = self.bot.get_partial_messageable(record.channel_id)
        try:
            message = await own_message(
                channel, record.message_id, bot_id=self._bot_id(), since=record.started_at, matches=unfinished
            )
            if message is not None and notice:
                await message.delete()
            elif message is not None and (content := interrupted(message.content, INTERRUPTED)):
                await message.edit(content=content, view=None, allowed_mentions=NO_PINGS)  # and no Cancel
        except discord.HTTPException:
            log.warning("could not mark an interrupted message in channel %s", record.channel_id, exc_info=True)
        await self.bot.unfinished.forget(record.id)

    # --- helpers ------------------------------------------------------------------------------------
    async def channel(self, channel_id: int) -> discord.abc.Messageable | None:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                log.warning("channel %s of a story is gone", channel_id)
                return None
        return channel  # type: ignore[return-value]

    async def model_name(self) -> str:
        return await self.narrator.model_name()

    def _bot_id(self) -> int:
        assert self.bot.user is not None, "the bot is connected before any story work starts"
        return self.bot.user.id

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("story task %s failed", task.get_name(), exc_info=task.exception())


async def _quietly(coro: Coroutine[Any, Any, Any]) -> None:
    try:
        await coro
    except discord.HTTPException:
        pass
