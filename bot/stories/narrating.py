"""The story's side of narration: what the narrator is asked, storing what it wrote, votes between versions.

No model calls here: `bot.stories.narration.Narrator` asks the engine and calls these steps.
"""

from __future__ import annotations

from dataclasses import replace

import aiosqlite

from bot.config import ConfigSnapshot, defaults
from bot.craft.narration import TakeContext, first_person, rank_takes
from bot.errors import Conflict, NotAllowed, NotFound
from bot.llm.client import Sampling
from bot.llm.types import ChatMessage, message
from bot.moderation import Actor
from bot.safety import objection
from bot.safety.gate import SafetyContext, rating_rules
from bot.stories.core import NO_STORY, StoryCore
from bot.stories.phases import Phase
from bot.stories.prompts import (
    clean_narration,
    continue_instruction,
    join_continuation,
    opening_instruction,
    recap_request,
    round_instruction,
    stop_sequences,
    summary_request,
)
from bot.stories.results import NarrationKind, NarrationPlan, Outcome, SummaryRequest, VoteResult
from bot.stories.rules import vote_seconds, word_count
from storage import lore as lore_repo
from storage import stories as repo
from storage import turns as turn_repo
from storage import votes as vote_repo
from storage.stories import Player, Story
from storage.turns import Turn
from storage.votes import Vote

SUMMARY_SHARE = 0.5  # refresh the summary once unsummarised turns exceed this share of the budget
SUMMARY_CHUNK = 1500  # tokens of turns folded into the summary per refresh
KEEP_VERBATIM = 4  # the newest turns are never summarised away
TAKE_HISTORY = 12  # turns looked back over for narrations a draft must not copy


class NarrationSteps(StoryCore):
    # --- narration ----------------------------------------------------------------------------------
    async def plan_narration(self, story_id: int) -> NarrationPlan:
        async with self._db.read() as conn:
            story = await repo.get(conn, story_id)
            if story is None or story.phase != Phase.NARRATING:
                raise Conflict("This story is not waiting for the narrator.")
            players = await repo.players(conn, story.id)
            final = bool(story.max_rounds) and story.round >= story.max_rounds
            if story.round == 0:
                kind, instruction = NarrationKind.OPENING, opening_instruction(players)
            else:
                kind = NarrationKind.ENDING if final else NarrationKind.ROUND
                names = await self._names(conn, story)
                round_turns = await turn_repo.in_round(conn, story.id, story.round)
                instruction = round_instruction(round_turns, names, final)
            prompt = await self.memory.build(conn, story, players, instruction)
            takes = await self._take_context(conn, story, players, prompt.lore_included)
        choices = story.choices if kind == NarrationKind.ROUND and story.choices > 1 else 1
        n = max(choices, self._narration_drafts)  # best of N: one batched request, the drafts scored
        settings = await self.settings(story)
        sampling = self._sampling(settings, players, n)
        messages = with_rules(prompt.messages, settings)
        return NarrationPlan(
            story, kind, messages, sampling, players, prompt.tokens, takes=takes, choices=choices, settings=settings
        )

    def _sampling(self, settings: ConfigSnapshot, players: list[Player], n: int = 1) -> Sampling:
        """How the narrator writes under the story's settings: `n` takes in one batched request, each stopped
        before it speaks for a player."""
        return Sampling(
            max_tokens=settings.tokens(self._narration_tokens),
            temperature=settings.heat(0.85),
            top_p=0.95,
            stop=stop_sequences(players),
            n=n,
            presence_penalty=self._presence_penalty,
            frequency_penalty=self._frequency_penalty,
        )

    async def _take_context(
        self, conn: aiosqlite.Connection, story: Story, players: list[Player], lore_ids: tuple[int, ...]
    ) -> TakeContext:
        recent = await turn_repo.recent(conn, story.id, limit=TAKE_HISTORY, after_seq=0)
        entries = await lore_repo.for_channel(conn, story.channel_id) if lore_ids else []
        return TakeContext(
            names=tuple(p.name for p in players),
            earlier=tuple(t.text for t in recent if t.kind == "narrator"),
            lore_keys=tuple(k for e in entries if e.id in lore_ids for k in e.keys),
            author_note=story.author_note,
            first_person_ok=first_person(story.premise),
        )

    async def settings(self, story: Story) -> ConfigSnapshot:
        """The moderators' settings in the story's channel (defaults without a registry)."""
        return await self._settings_at(story.guild_id, story.channel_id) if self._settings_at else defaults()

    async def objection(self, guild_id: int, text: str) -> str | None:
        """Why generated text may not be shown on this server (its AutoMod rules, say), or None: the gate's
        extra checks, asked while a narration streams so a text that breaks them is never shown."""
        return await objection(self._gate.output_checks if self._gate else (), guild_id, text)

    def preview(self, plan: NarrationPlan, text: str) -> str:
        """Text as it may be shown while it is still being written (the gate's quick check on it)."""
        return self._gate.preview(plan.settings, text) if self._gate is not None else text

    async def screen_output(self, plan: NarrationPlan, text: str) -> str:
        """The narrator's text through the safety gate: redacted, or "" when withheld."""
        if self._gate is None or not text:
            return text
        context = SafetyContext(plan.story.guild_id, plan.story.channel_id, None, "stories", plan.settings)
        verdict = await self._gate.check_output(context, text)
        return verdict.text if verdict.allowed else ""

    async def complete_narration(self, plan: NarrationPlan, texts: list[str], truncated: bool = False) -> Outcome:
        """Store what the narrator wrote (or open a vote between its versions) and move the story on.

        `truncated`: the engine stopped at the token limit, so unfinished sentences are trimmed.
        """
        options = self.narration_options(plan, texts, truncated)[: max(1, plan.choices)]
        screened = [t for t in [await self.screen_output(plan, o) for o in options] if t]
        if options and not screened:
            return await self.fail_narration(plan.story.id, "The narrator's text went against this server's rules.")
        options = screened
        if not options:
            return await self.fail_narration(plan.story.id, "The narrator found no words this time.")
        async with self._db.transaction() as conn:
            story = await repo.get(conn, plan.story.id)
            if story is None or story.phase != Phase.NARRATING or story.round != plan.story.round:
                return Outcome(plan.story, note="The story moved on while the narrator wrote; nothing was saved.")
            if len(options) > 1:
                deadline = self._now() + vote_seconds(story)
                vote = await vote_repo.create(conn, story.id, story.round, options, deadline, self._now())
                story = await repo.update(conn, story.id, phase=Phase.VOTING, deadline=deadline)
                return Outcome(story, vote=vote)
            return await self._add_narration(conn, story, options[0], ending=plan.kind == NarrationKind.ENDING)

    async def plan_continuation(self, turn_id: int, actor: Actor) -> tuple[NarrationPlan, Turn]:
        """Ask the narrator to go on with a part that time cut short, while it is still the story's last word."""
        async with self._db.read() as conn:
            turn = await turn_repo.get(conn, turn_id)
            story = await repo.get(conn, turn.story_id) if turn else None
            if turn is None or story is None or turn.kind != "narrator" or story.phase == Phase.ENDED:
                raise NotFound("That part of the story is gone or the story is over, so it cannot go on.")
            await self._require_player_or_control(conn, story, actor)
            last = await turn_repo.last(conn, story.id)
            if last is None or last.id != turn.id or story.phase != Phase.TURNS or story.paused:
                raise Conflict("The story has moved on since the narrator stopped, so that part stays as it is.")
            players = await repo.players(conn, story.id)
            prompt = await self.memory.build(conn, story, players, continue_instruction())
        settings = await self.settings(story)
        sampling = self._sampling(settings, players)
        messages = with_rules(prompt.messages, settings)
        kind = NarrationKind.CONTINUATION
        return NarrationPlan(story, kind, messages, sampling, players, prompt.tokens, settings=settings), turn

    async def extend_narration(self, plan: NarrationPlan, turn: Turn, text: str, truncated: bool) -> Turn:
        """Add the narrator's continuation to its part, if nobody has written since. Returns the part."""
        added = await self.screen_output(plan, clean_narration(text, plan.players, truncated=truncated))
        async with self._db.transaction() as conn:
            last = await turn_repo.last(conn, turn.story_id)
            if last is None or last.id != turn.id:
                raise Conflict("The story moved on while the narrator wrote, so nothing was added.")
            if not added:
                return last
            whole = join_continuation(last.text, added)
            tokens, words = self.memory.counter.count(whole), word_count(whole)
            await turn_repo.edit(conn, turn.id, whole, tokens, words, self._now())
        return replace(last, text=whole, tokens=tokens, words=words)

    def narration_options(self, plan: NarrationPlan, texts: list[str], truncated: bool = False) -> list[str]:
        """The distinct, non-empty narrations among `texts`, cleaned as they would be stored, best first:
        scored on what the model wrote (a line for a player counts against a take even though cleaning
        cuts it), so one draft is posted and a vote offers the best ones."""
        cleaned = [(clean_narration(x, plan.players, truncated=truncated), x) for x in texts]
        kept = [(text, raw) for text, raw in cleaned if text]
        if plan.takes is not None and len(kept) > 1:
            order = rank_takes([raw for _, raw in kept], plan.takes)
            kept = [kept[i] for i, _ in order]
        return list(dict.fromkeys(text for text, _ in kept))

    async def fail_narration(self, story_id: int, reason: str) -> Outcome:
        async with self._db.transaction() as conn:
            story = await repo.get(conn, story_id)
            if story is None:
                raise NotFound(NO_STORY)
            if story.phase == Phase.NARRATING:
                story = await repo.update(conn, story.id, phase=Phase.HELD, deadline=None)
        return Outcome(story, note=f"{reason} Nothing was saved; `/story retry` asks the narrator again.")

    # --- votes --------------------------------------------------------------------------------------
    async def cast_vote(self, vote_id: int, user_id: int, choice: int) -> tuple[Vote, bool]:
        """Record a ballot (players may change it until the vote closes). Returns (vote, everyone voted)."""
        async with self._db.transaction() as conn:
            vote = await vote_repo.get(conn, vote_id)
            if vote is None or vote.closed_at is not None:
                raise Conflict("This vote is closed.")
            if not 0 <= choice < len(vote.options):
                raise NotFound("There is no such option.")
            players = await repo.players(conn, vote.story_id)
            if not any(p.user_id == user_id for p in players):
                raise NotAllowed("Only the story's players can vote.")
            await vote_repo.cast(conn, vote.id, user_id, choice, self._now())
            ballots = await vote_repo.ballots(conn, vote.id)
        return vote, all(p.user_id in ballots for p in players)

    async def set_vote_message(self, vote_id: int, message_id: int) -> None:
        async with self._db.transaction() as conn:
            await vote_repo.set_message(conn, vote_id, message_id)

    async def close_vote(self, vote_id: int) -> VoteResult | None:
        async with self._db.transaction() as conn:
            vote = await vote_repo.get(conn, vote_id)
            if vote is None or vote.closed_at is not None:
                return None
            story = await self._story(conn, vote.story_id)
            return await self._close_vote(conn, story, vote)

    # --- summaries and recaps ---------------------------------------------------------------------
    async def recap_request(self, channel_id: int) -> NarrationPlan:
        """What the narrator is asked for a "previously on…" recap of the channel's open story."""
        async with self._db.read() as conn:
            story = await self._open(conn, channel_id)
            recent = await turn_repo.recent(conn, story.id, limit=12, after_seq=story.summary_upto)
            messages = recap_request(story, story.summary, recent, await self._names(conn, story))
        settings = await self.settings(story)
        sampling = Sampling(max_tokens=settings.tokens(160, use_default=False), temperature=settings.heat(0.7))
        return NarrationPlan(
            story, NarrationKind.RECAP, with_rules(messages, settings), sampling, [], 0, settings=settings
        )

    async def summary_due(self, story_id: int) -> SummaryRequest | None:
        """The oldest unsummarised turns to fold into the rolling summary, once they take up too much room."""
        budget = self.memory.budget
        async with self._db.read() as conn:
            story = await self._story(conn, story_id)
            if await turn_repo.unsummarized_tokens(conn, story.id, story.summary_upto) < budget * SUMMARY_SHARE:
                return None
            latest = await turn_repo.last(conn, story.id)
            keep_verbatim = (latest.seq if latest else 0) - KEEP_VERBATIM
            window = await turn_repo.oldest(
                conn, story.id, after_seq=story.summary_upto, upto_seq=keep_verbatim, limit=400
            )
            chunk, used = [], 0
            for turn in window:
                if used + turn.tokens > SUMMARY_CHUNK and chunk:
                    break
                chunk.append(turn)
                used += turn.tokens
            names = await self._names(conn, story)
        if not chunk:
            return None
        return SummaryRequest(story, chunk[-1].seq, summary_request(story.summary, chunk, names))

    async def store_summary(self, request: SummaryRequest, summary: str) -> bool:
        """Keep the new summary, unless another refresh got there first."""
        async with self._db.transaction() as conn:
            current = await self._story(conn, request.story.id)
            if current.summary_upto != request.story.summary_upto:
                return False  # another refresh won
            await repo.update(conn, request.story.id, summary=summary, summary_upto=request.upto_seq)
        return True


def with_rules(messages: list[ChatMessage], settings: ConfigSnapshot) -> list[ChatMessage]:
    """The prompt with the content rating, style note and language added to its system message."""
    if not messages or messages[0]["role"] != "system":
        return [message("system", rating_rules(settings)), *messages]
    first = message("system", f"{messages[0]['content']}\n\n{rating_rules(settings)}")
    return [first, *messages[1:]]
