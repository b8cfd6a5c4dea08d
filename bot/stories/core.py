"""What every part of the story service shares: its resources, and the steps that move a story on.

`StoryService` (service.py) builds on this; the steps here run inside a caller's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import aiosqlite

from bot.errors import Conflict, NotAllowed, NotFound
from bot.llm.tokens import EstimatingCounter, TokenCounter
from bot.moderation import Actor, ModerationService
from bot.safety.gate import SafetyGate
from bot.stories.memory import ContextBuilder
from bot.stories.phases import Phase, doing
from bot.stories.results import Outcome, SettingsAt, StoryView, VoteResult
from bot.stories.rules import NAME_LIMIT, contributions, vote_winner, whose_turn, word_count
from bot.text import clean_input
from storage import guilds
from storage import stories as repo
from storage import turns as turn_repo
from storage import votes as vote_repo
from storage.db import Database
from storage.stories import Player, Story
from storage.votes import Vote

NO_STORY = "There is no story running in this channel. Start one with `/story start`."


class StoryCore:
    def __init__(
        self,
        db: Database,
        moderation: ModerationService,
        *,
        counter: TokenCounter | None = None,
        prompt_budget: int = 2048,
        narration_tokens: int = 280,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        narration_drafts: int = 1,
        clock: Callable[[], float] = time.time,
        gate: SafetyGate | None = None,
        settings_at: SettingsAt | None = None,
    ) -> None:
        """`presence_penalty`/`frequency_penalty`: repetition control sent with every narration;
        `narration_drafts`: takes written at once, the best-scored posted (1: one take, streamed)."""
        self._narration_drafts = narration_drafts
        self._presence_penalty = presence_penalty
        self._frequency_penalty = frequency_penalty
        self._db = db
        self._gate = gate
        self._settings_at = settings_at
        self._moderation = moderation
        self._now = clock
        self._narration_tokens = narration_tokens
        self.memory = ContextBuilder(counter or EstimatingCounter(), prompt_budget)

    def use_counter(self, counter: TokenCounter) -> None:
        self.memory = ContextBuilder(counter, self.memory.budget)

    # --- shared steps ----------------------------------------------------------------------------------
    async def _advance(self, conn: aiosqlite.Connection, story: Story, resuming: bool = False) -> Outcome:
        """After a change in the turn phase: whose turn is it, or is the narrator due?

        A round that everyone skipped pauses the story; resuming it lets the world move on (the narrator
        answers the empty round) instead of pausing again at once.
        """
        if story.phase not in (Phase.TURNS, Phase.HELD) or story.paused:
            return Outcome(story)
        players = await repo.players(conn, story.id)
        if not players:
            story = await repo.update(conn, story.id, phase=Phase.HELD, deadline=None)
            return Outcome(story, note="Everyone has left, so the story waits. Anyone can `/story join`.")
        story = await repo.update(conn, story.id, phase=Phase.TURNS)
        round_turns = await turn_repo.in_round(conn, story.id, story.round)
        if story.round_robin:
            current = whose_turn(story, players, round_turns)
            if current is not None:
                deadline = self._now() + story.turn_timeout if story.turn_timeout else None
                return Outcome(await repo.update(conn, story.id, deadline=deadline), next_player=current)
            if not contributions(round_turns) and not resuming:
                story = await repo.update(conn, story.id, paused=1, deadline=None)
                return Outcome(
                    story, note="Nobody wrote this round, so the story is paused. `/story resume` continues it."
                )
        elif contributions(round_turns) < story.narrate_every:
            return Outcome(story)
        story = await repo.update(conn, story.id, phase=Phase.NARRATING, deadline=None)
        return Outcome(story, narrate=True)

    async def _add_narration(self, conn: aiosqlite.Connection, story: Story, text: str, ending: bool) -> Outcome:
        turn = await turn_repo.add(
            conn, story.id, round=story.round, kind="narrator", author_id=None, text=text,
            tokens=self.memory.counter.count(text), words=word_count(text), now=self._now(),
        )  # fmt: skip
        if ending:
            story = await repo.update(conn, story.id, phase=Phase.ENDED, ended_at=self._now(), deadline=None)
            return Outcome(story, turn=turn)
        story = await repo.update(conn, story.id, round=story.round + 1, phase=Phase.TURNS)
        return replace(await self._advance(conn, story), turn=turn)

    async def _close_vote(self, conn: aiosqlite.Connection, story: Story, vote: Vote) -> VoteResult:
        winner, tally = vote_winner(vote, await vote_repo.ballots(conn, vote.id))
        await vote_repo.close(conn, vote.id, winner, self._now())
        ending = bool(story.max_rounds) and story.round >= story.max_rounds
        story = await repo.update(conn, story.id, phase=Phase.NARRATING)
        outcome = await self._add_narration(conn, story, vote.options[winner], ending=ending)
        return VoteResult(replace(vote, winner=winner, closed_at=self._now()), winner, tally, outcome)

    async def _cancel_vote(self, conn: aiosqlite.Connection, story: Story) -> Vote | None:
        """Close the story's open vote without a winner; returns it as closed (its message must say so)."""
        vote = await vote_repo.open_for(conn, story.id)
        if vote is None:
            return None
        await vote_repo.close(conn, vote.id, None, self._now())
        return replace(vote, closed_at=self._now())

    async def _current(self, conn: aiosqlite.Connection, story: Story, players: list[Player]) -> Player | None:
        return whose_turn(story, players, await turn_repo.in_round(conn, story.id, story.round))

    async def _view(self, conn: aiosqlite.Connection, story: Story) -> StoryView:
        players = await repo.players(conn, story.id)
        round_turns = await turn_repo.in_round(conn, story.id, story.round)
        vote = await vote_repo.open_for(conn, story.id) if story.phase == Phase.VOTING else None
        ballots = await vote_repo.ballots(conn, vote.id) if vote else {}
        return StoryView(
            story, players, whose_turn(story, players, round_turns), await turn_repo.stats(conn, story.id),
            contributions(round_turns), vote, ballots,
        )  # fmt: skip

    async def _names(self, conn: aiosqlite.Connection, story: Story) -> dict[int, str]:
        return {p.user_id: p.name for p in await repo.players(conn, story.id, active_only=False)}

    async def _open(self, conn: aiosqlite.Connection, channel_id: int) -> Story:
        story = await repo.open_in_channel(conn, channel_id)
        if story is None:
            raise NotFound(NO_STORY)
        return story

    async def _story(self, conn: aiosqlite.Connection, story_id: int) -> Story:
        story = await repo.get(conn, story_id)
        if story is None or story.phase == Phase.ENDED:
            raise NotFound("That story is over.")
        return story

    def _require_writable(self, story: Story) -> None:
        if story.paused:
            raise Conflict("The story is paused. A moderator or the starter can `/story resume` it.")
        if story.phase != Phase.TURNS:
            raise Conflict(f"You cannot add a turn while the story is {doing(story)}.")

    async def _require_control(self, story: Story, actor: Actor, what: str) -> bool:
        """The starter may; so may a moderator. True when it takes a moderator's rights (then it is audited)."""
        if actor.user_id == story.starter_id:
            return False
        if not await self._moderation.is_moderator(actor):
            raise NotAllowed(f"Only the person who started this story, or a moderator, can {what}.")
        return True

    async def _require_player_or_control(self, conn: aiosqlite.Connection, story: Story, actor: Actor) -> bool:
        if any(p.user_id == actor.user_id for p in await repo.players(conn, story.id)):
            return False
        return await self._require_control(story, actor, "do that")

    async def _audit(
        self, conn: aiosqlite.Connection, by_moderator: bool, story: Story, actor: Actor, action: str, **detail: object
    ) -> None:
        """A moderator acting on someone else's story is recorded, in the same transaction as the change."""
        if by_moderator:
            await guilds.audit(
                conn, story.guild_id, actor.user_id, action,
                channel=story.channel_id, starter=story.starter_id, title=story.title, **detail,
            )  # fmt: skip

    def _name(self, name: str) -> str:
        return clean_input(name, field="character name", max_length=NAME_LIMIT, multiline=False)
