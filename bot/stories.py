"""Multiplayer story rounds: the rules and their persistence. Knows nothing of Discord.

A story lives in one channel and moves through phases:

    lobby -> narrating (the opening) -> turns -> narrating -> turns -> ... -> ended
                                          |         \\-> voting (group choice) -> turns
                                          \\-> held (narration failed or was undone: waiting for /story retry)

Every change is one transaction, and everything needed to resume after a restart (phase, round,
deadline, open vote) is stored. Methods return an `Outcome` that tells the caller what to do next
(ping a player, narrate, arm a timer); the caller owns time and Discord, this class owns the rules.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import aiosqlite

from bot.config import ConfigSnapshot, defaults
from bot.craft.narration import TakeContext, first_person, rank_takes
from bot.engine_client import EngineClient, Sampling
from bot.errors import Conflict, NotAllowed, NotFound
from bot.memory import ContextBuilder
from bot.moderation import Actor, ModerationService
from bot.npcs.story import undo_with_answer  # issue 10: NPC turns in story rounds
from bot.safety import objection
from bot.safety.gate import SafetyContext, SafetyGate, rating_rules
from bot.story_prompts import (
    clean_narration,
    continue_instruction,
    join_continuation,
    opening_instruction,
    recap_request,
    round_instruction,
    stop_sequences,
    summary_request,
)
from bot.story_rules import (
    MAX_PINS,
    MAX_PLAYERS,
    NAME_LIMIT,
    NOTE_LIMIT,
    PIN_LIMIT,
    TURN_LIMIT,
    StoryOptions,
    contributions,
    vote_seconds,
    vote_winner,
    whose_turn,
    word_count,
)
from bot.text import clean_input, quote
from bot.tokens import EstimatingCounter, TokenCounter
from storage import guilds
from storage import lore as lore_repo
from storage import stories as repo
from storage import turns as turn_repo
from storage import votes as vote_repo
from storage.db import Database
from storage.stories import Player, Story
from storage.turns import Turn, TurnStats
from storage.votes import Vote

NO_STORY = "There is no story running in this channel. Start one with `/story start`."
SUMMARY_SHARE = 0.5  # refresh the summary once unsummarised turns exceed this share of the budget
SUMMARY_CHUNK = 1500  # tokens of turns folded into the summary per refresh
KEEP_VERBATIM = 4  # the newest turns are never summarised away
TAKE_HISTORY = 12  # turns looked back over for narrations a draft must not copy


@dataclass(frozen=True)
class Outcome:
    """What a change means for whoever drives the story."""

    story: Story
    turn: Turn | None = None  # the turn that was written, skipped or removed
    next_player: Player | None = None  # round-robin: whose turn it is now (ping them)
    skipped: Player | None = None
    narrate: bool = False  # a narration is due now
    vote: Vote | None = None  # a vote was opened
    cancelled_vote: Vote | None = None  # an open vote was closed without a winner (retry, end)
    player: Player | None = None  # the player who acted, if one did
    note: str = ""  # something to tell the channel


@dataclass(frozen=True)
class NarrationPlan:
    story: Story
    kind: str  # "opening", "round" or "ending"
    messages: list[dict[str, str]]
    sampling: Sampling
    players: list[Player]
    prompt_tokens: int
    takes: TakeContext | None = None  # what the narrator's drafts are scored against (bot.craft.narration)
    choices: int = 1  # versions put to a vote (1: no vote); the drafts asked for (`sampling.n`) may be more
    settings: ConfigSnapshot = field(default_factory=defaults)  # the story's channel's, when it was planned


SettingsAt = Callable[[int, int], Awaitable[ConfigSnapshot]]  # (guild id, channel id) -> the settings there


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    winner: int
    tally: list[int]
    outcome: Outcome


@dataclass(frozen=True)
class StoryView:
    story: Story
    players: list[Player]
    current: Player | None
    stats: TurnStats
    round_contributions: int
    vote: Vote | None
    ballots: dict[int, int] = field(default_factory=dict)


class StoryService:
    def __init__(
        self,
        db: Database,
        engine: EngineClient,
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
        self._db = db
        self._penalties = {"presence_penalty": presence_penalty, "frequency_penalty": frequency_penalty}
        self._gate = gate
        self._settings_at = settings_at
        self._engine = engine
        self._moderation = moderation
        self._now = clock
        self._narration_tokens = narration_tokens
        self.memory = ContextBuilder(counter or EstimatingCounter(), prompt_budget)

    def use_counter(self, counter: TokenCounter) -> None:
        self.memory = ContextBuilder(counter, self.memory.budget)

    # --- lobby --------------------------------------------------------------------------------------
    async def create(
        self, guild_id: int, channel_id: int, starter_id: int, starter_name: str, options: StoryOptions
    ) -> Story:
        options = options.validated()
        name = self._name(starter_name)
        async with self._db.transaction() as conn:
            if await repo.open_in_channel(conn, channel_id):
                raise Conflict("A story is already running in this channel. `/story status` shows it.")
            story = await repo.create(
                conn,
                guild_id=guild_id,
                channel_id=channel_id,
                starter_id=starter_id,
                title=options.title,
                genre=options.genre,
                premise=options.premise,
                mode=options.mode,
                turn_timeout=options.turn_timeout,
                max_rounds=options.max_rounds,
                narrate_every=options.narrate_every,
                choices=options.choices,
                now=self._now(),
            )
            await repo.join(conn, story.id, starter_id, name, self._now())
        return story

    async def set_lobby_message(self, story_id: int, message_id: int) -> None:
        async with self._db.transaction() as conn:
            await repo.update(conn, story_id, lobby_message_id=message_id)

    async def join(self, story_id: int, user_id: int, name: str) -> tuple[Outcome, Player]:
        name = self._name(name)
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            players = await repo.players(conn, story.id)
            if any(p.user_id == user_id for p in players):
                raise Conflict("You are already in this story. `/story join character:…` renames your character.")
            if len(players) >= MAX_PLAYERS:
                raise Conflict(f"This story is full ({MAX_PLAYERS} players).")
            player = await repo.join(conn, story.id, user_id, name, self._now())
            outcome = await self._advance(conn, story) if story.phase == "held" and not players else Outcome(story)
        return outcome, player

    async def rename(self, story_id: int, user_id: int, name: str) -> tuple[Player, Player]:
        """A player's character takes a new name (same rules as joining). Returns (before, after)."""
        name = self._name(name)
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            before = next((p for p in await repo.players(conn, story.id) if p.user_id == user_id), None)
            if before is None:
                raise NotFound("You are not in this story. `/story join` joins it.")
            after = await repo.rename(conn, story.id, user_id, name)
        assert after is not None
        return before, after

    async def leave(self, story_id: int, user_id: int) -> tuple[Outcome, Player]:
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            players = await repo.players(conn, story.id)
            player = next((p for p in players if p.user_id == user_id), None)
            if player is None:
                raise NotFound("You are not in this story.")
            current = await self._current(conn, story, players)
            await repo.leave(conn, story.id, user_id, self._now())
            outcome = Outcome(story)
            if story.phase == "turns" and (current is None or current.user_id == user_id or len(players) == 1):
                outcome = await self._advance(conn, story)
        return outcome, player

    async def begin(self, story_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            by_moderator = await self._require_control(story, actor, "start the story")
            if story.phase != "lobby":
                raise Conflict("This story has already started.")
            if not await repo.players(conn, story.id):
                raise Conflict("Nobody has joined yet.")
            story = await repo.update(conn, story.id, phase="narrating", round=0)
            await self._audit(conn, by_moderator, story, actor, "story.start")
        return Outcome(story, narrate=True)

    # --- turns --------------------------------------------------------------------------------------
    async def add_turn(self, channel_id: int, user_id: int, text: str) -> Outcome:
        text = clean_input(text, field="turn", max_length=TURN_LIMIT)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            self._require_writable(story)
            players = await repo.players(conn, story.id)
            if not any(p.user_id == user_id for p in players):
                raise NotAllowed("You are not in this story. Press **Join** on the lobby message or use `/story join`.")
            current = await self._current(conn, story, players)
            if story.round_robin and (current is None or current.user_id != user_id):
                waiting_for = f"**{quote(current.name, 40)}**" if current else "the narrator"
                raise NotAllowed(f"It is not your turn yet: the story is waiting for {waiting_for}.")
            turn = await turn_repo.add(
                conn, story.id, round=story.round, kind="player", author_id=user_id, text=text,
                tokens=self.memory.counter.count(text), words=word_count(text), now=self._now(),
            )  # fmt: skip
            outcome = await self._advance(conn, story)
        player = next(p for p in players if p.user_id == user_id)
        return replace(outcome, turn=turn, player=player)

    async def edit_last(self, channel_id: int, user_id: int, text: str) -> Turn:
        text = clean_input(text, field="turn", max_length=TURN_LIMIT)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            mine = [t for t in await turn_repo.in_round(conn, story.id, story.round) if t.author_id == user_id]
            mine = [t for t in mine if t.kind == "player"]
            if not mine or story.phase not in ("turns", "held"):
                raise NotAllowed(
                    "You can only edit your own turn in the current round, before the narrator weaves it in."
                )
            turn = mine[-1]
            await turn_repo.edit(conn, turn.id, text, self.memory.counter.count(text), word_count(text), self._now())
        return replace(turn, text=text)

    async def expire(self, story_id: int, deadline: float) -> Outcome | VoteResult | None:
        """A timer fired: skip the player whose turn timed out, or close the vote. Stale timers do nothing."""
        async with self._db.transaction() as conn:
            story = await repo.get(conn, story_id)
            if story is None or story.paused or story.deadline != deadline or self._now() < deadline:
                return None
            if story.phase == "voting":
                vote = await vote_repo.open_for(conn, story.id)
                return await self._close_vote(conn, story, vote) if vote else None
            players = await repo.players(conn, story.id)
            current = await self._current(conn, story, players)
            if story.phase != "turns" or current is None:
                return None
            skip = await turn_repo.add(
                conn, story.id, round=story.round, kind="skip", author_id=current.user_id, text="",
                tokens=0, words=0, now=self._now(),
            )  # fmt: skip
            outcome = await self._advance(conn, story)
        return replace(outcome, turn=skip, skipped=current)

    async def undo(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "undo turns")
            if story.phase in ("narrating", "voting", "lobby"):
                raise Conflict(f"Nothing can be undone while the story is {_phase_words(story)}.")
            last = await turn_repo.last(conn, story.id)
            if last is None:
                raise NotFound("There is nothing to undo yet.")
            last = await undo_with_answer(conn, story.id, last)  # issue 10: an NPC's answer goes with its turn
            if last.seq <= story.summary_upto:  # its seq would be reused by a turn the prompt then skips
                raise Conflict("That part is already folded into the story's summary, so it can no longer be undone.")
            await turn_repo.delete(conn, last.id)
            await self._audit(conn, by_moderator, story, actor, "story.undo", turn=last.seq, author=last.author_id)
            if last.kind == "narrator":
                story = await repo.update(conn, story.id, round=last.round, phase="held", deadline=None)
                note = (
                    "The narrator's last part was removed. `/story retry` writes a new one; "
                    "`/story undo` goes further back."
                )
                return Outcome(story, turn=last, note=note)
            story = await repo.update(conn, story.id, phase="turns")
            outcome = await self._advance(conn, story)
        return replace(outcome, turn=last)

    # --- narration ----------------------------------------------------------------------------------
    async def plan_narration(self, story_id: int) -> NarrationPlan:
        async with self._db.read() as conn:
            story = await repo.get(conn, story_id)
            if story is None or story.phase != "narrating":
                raise Conflict("This story is not waiting for the narrator.")
            players = await repo.players(conn, story.id)
            final = bool(story.max_rounds) and story.round >= story.max_rounds
            if story.round == 0:
                kind, instruction = "opening", opening_instruction(players)
            else:
                kind = "ending" if final else "round"
                names = await self._names(conn, story)
                round_turns = await turn_repo.in_round(conn, story.id, story.round)
                instruction = round_instruction(round_turns, names, final)
            prompt = await self.memory.build(conn, story, players, instruction)
            takes = await self._take_context(conn, story, players, prompt.lore_included)
        choices = story.choices if kind == "round" and story.choices > 1 else 1
        n = max(choices, self._narration_drafts)  # best of N: one batched request, the drafts scored
        settings = await self.settings(story)
        sampling = Sampling(
            max_tokens=settings.tokens(self._narration_tokens),
            temperature=settings.heat(0.85),
            top_p=0.95,
            stop=stop_sequences(players),
            n=n,
            **self._penalties,
        )
        messages = with_rules(prompt.messages, settings)
        return NarrationPlan(
            story, kind, messages, sampling, players, prompt.tokens, takes=takes, choices=choices, settings=settings
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
            if story is None or story.phase != "narrating" or story.round != plan.story.round:
                return Outcome(plan.story, note="The story moved on while the narrator wrote; nothing was saved.")
            if len(options) > 1:
                deadline = self._now() + vote_seconds(story)
                vote = await vote_repo.create(conn, story.id, story.round, options, deadline, self._now())
                story = await repo.update(conn, story.id, phase="voting", deadline=deadline)
                return Outcome(story, vote=vote)
            return await self._add_narration(conn, story, options[0], ending=plan.kind == "ending")

    async def plan_continuation(self, turn_id: int, actor: Actor) -> tuple[NarrationPlan, Turn]:
        """Ask the narrator to go on with a part that time cut short, while it is still the story's last word."""
        async with self._db.read() as conn:
            turn = await turn_repo.get(conn, turn_id)
            story = await repo.get(conn, turn.story_id) if turn else None
            if turn is None or story is None or turn.kind != "narrator" or story.phase == "ended":
                raise NotFound("That part of the story is gone or the story is over, so it cannot go on.")
            await self._require_player_or_control(conn, story, actor)
            last = await turn_repo.last(conn, story.id)
            if last is None or last.id != turn.id or story.phase != "turns" or story.paused:
                raise Conflict("The story has moved on since the narrator stopped, so that part stays as it is.")
            players = await repo.players(conn, story.id)
            prompt = await self.memory.build(conn, story, players, continue_instruction())
        settings = await self.settings(story)
        sampling = Sampling(
            max_tokens=settings.tokens(self._narration_tokens),
            temperature=settings.heat(0.85),
            top_p=0.95,
            stop=stop_sequences(players),
            **self._penalties,
        )
        messages = with_rules(prompt.messages, settings)
        return NarrationPlan(story, "continuation", messages, sampling, players, prompt.tokens, settings=settings), turn

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

    async def objection(self, guild_id: int, text: str) -> str | None:
        """Why generated text may not be shown on this server (its AutoMod rules, say), or None: the gate's
        extra checks, asked while a narration streams so a text that breaks them is never shown."""
        return await objection(self._gate.output_checks if self._gate else (), guild_id, text)

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
            if story.phase == "narrating":
                story = await repo.update(conn, story.id, phase="held", deadline=None)
        return Outcome(story, note=f"{reason} Nothing was saved; `/story retry` asks the narrator again.")

    async def retry(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            if story.phase in ("lobby", "narrating") or story.paused:
                raise Conflict(f"There is nothing to retry while the story is {_phase_words(story)}.")
            cancelled = await self._cancel_vote(conn, story) if story.phase == "voting" else None
            if story.phase == "turns":
                last = await turn_repo.last(conn, story.id)
                if last is None or last.kind != "narrator":
                    raise Conflict(
                        "Players have written since the narrator's last part, so it stays. `/story undo` first."
                    )
                await turn_repo.delete(conn, last.id)
                story = await repo.update(conn, story.id, round=last.round)
            story = await repo.update(conn, story.id, phase="narrating", deadline=None)
            await self._audit(conn, by_moderator, story, actor, "story.retry")
        return Outcome(story, narrate=True, cancelled_vote=cancelled)

    async def narrate_now(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            if story.round_robin:
                raise Conflict(
                    "In round-robin mode the narrator answers after each round. Use `/story retry` to redo it."
                )
            self._require_writable(story)
            if not contributions(await turn_repo.in_round(conn, story.id, story.round)):
                raise Conflict("Nobody has written since the narrator's last part. Add a turn first.")
            story = await repo.update(conn, story.id, phase="narrating", deadline=None)
            await self._audit(conn, by_moderator, story, actor, "story.narrate")
        return Outcome(story, narrate=True)

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

    # --- control ------------------------------------------------------------------------------------
    async def pause(self, channel_id: int, actor: Actor) -> Story:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "pause the story")
            if story.paused or story.phase == "lobby":
                raise Conflict("The story is already paused." if story.paused else "The story has not started.")
            await self._audit(conn, by_moderator, story, actor, "story.pause")
            return await repo.update(conn, story.id, paused=1, deadline=None)

    async def resume(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "resume the story")
            if not story.paused:
                raise Conflict("The story is not paused.")
            await self._audit(conn, by_moderator, story, actor, "story.resume")
            story = await repo.update(conn, story.id, paused=0)
            if story.phase == "voting":
                deadline = self._now() + vote_seconds(story)
                vote = await vote_repo.open_for(conn, story.id)
                if vote:
                    await vote_repo.set_deadline(conn, vote.id, deadline)
                return Outcome(await repo.update(conn, story.id, deadline=deadline))
            if story.phase == "narrating":  # paused mid-narration, perhaps across a restart: ask again
                return Outcome(story, narrate=True)
            return await self._advance(conn, story, resuming=True)

    async def end(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "end the story")
            await self._audit(conn, by_moderator, story, actor, "story.end")
            cancelled = await self._cancel_vote(conn, story)
            story = await repo.update(conn, story.id, phase="ended", ended_at=self._now(), deadline=None)
        return Outcome(story, cancelled_vote=cancelled)

    async def set_note(self, channel_id: int, actor: Actor, note: str) -> Story:
        note = clean_input(note, field="author's note", max_length=NOTE_LIMIT, min_length=0)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "change the author's note")
            await self._audit(conn, by_moderator, story, actor, "story.note", note=note)
            return await repo.update(conn, story.id, author_note=note)

    async def pin(self, channel_id: int, actor: Actor, fact: str) -> repo.Pin:
        fact = clean_input(fact, field="fact", max_length=PIN_LIMIT)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            if len(await repo.pins(conn, story.id)) >= MAX_PINS:
                raise Conflict(f"A story can pin at most {MAX_PINS} facts; `/story unpin` one first.")
            pin = await repo.add_pin(conn, story.id, actor.user_id, fact, self._now())
            await self._audit(conn, by_moderator, story, actor, "story.pin", pin=pin.id, fact=fact)
            return pin

    async def unpin(self, channel_id: int, actor: Actor, pin_id: int) -> None:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            removed = await repo.remove_pin(conn, story.id, pin_id)
            if removed is None:
                raise NotFound(f"This story has no pinned fact #{pin_id}. `/story pins` lists them.")
            await self._audit(conn, by_moderator, story, actor, "story.unpin", pin=pin_id, fact=removed.text)

    # --- reading ------------------------------------------------------------------------------------
    async def view(self, channel_id: int) -> StoryView:
        async with self._db.read() as conn:
            story = await self._open(conn, channel_id)
            return await self._view(conn, story)

    async def view_of(self, story_id: int) -> StoryView:
        async with self._db.read() as conn:
            return await self._view(conn, await self._story(conn, story_id))

    async def open_stories(self) -> list[Story]:
        async with self._db.read() as conn:
            return await repo.all_open(conn)

    async def pins(self, channel_id: int) -> list[repo.Pin]:
        async with self._db.read() as conn:
            return await repo.pins(conn, (await self._open(conn, channel_id)).id)

    async def transcript(self, channel_id: int) -> tuple[Story, list[Player], list[Turn]]:
        """The open story, or the channel's latest ended one, with every player and turn (for export)."""
        async with self._db.read() as conn:
            story = await repo.latest_in_channel(conn, channel_id)
            if story is None:
                raise NotFound("No story has been told in this channel yet.")
            return story, await repo.players(conn, story.id, active_only=False), await turn_repo.all_of(conn, story.id)

    async def recap(self, channel_id: int) -> tuple[Story, str]:
        """A "previously on…" recap, written fresh from the summary and the latest turns (not stored)."""
        async with self._db.read() as conn:
            story = await self._open(conn, channel_id)
            recent = await turn_repo.recent(conn, story.id, limit=12, after_seq=story.summary_upto)
            messages = recap_request(story, story.summary, recent, await self._names(conn, story))
        settings = await self.settings(story)
        sampling = Sampling(max_tokens=settings.tokens(160, use_default=False), temperature=settings.heat(0.7))
        result = await self._engine.complete(
            with_rules(messages, settings), tenant=str(story.guild_id), sampling=sampling
        )
        plan = NarrationPlan(story, "recap", messages, sampling, [], 0, settings=settings)
        return story, await self.screen_output(plan, clean_narration(result.text, []))

    async def refresh_summary(self, story_id: int) -> bool:
        """Fold the oldest unsummarised turns into the rolling summary, once they take up too much room."""
        budget = self.memory.budget
        async with self._db.read() as conn:
            story = await self._story(conn, story_id)
            if await turn_repo.unsummarized_tokens(conn, story.id, story.summary_upto) < budget * SUMMARY_SHARE:
                return False
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
            return False
        messages = summary_request(story.summary, chunk, names)
        result = await self._engine.complete(
            messages, tenant=str(story.guild_id), sampling=Sampling(max_tokens=220, temperature=0.3)
        )
        summary = clean_narration(result.text, [])
        if not summary:
            return False
        async with self._db.transaction() as conn:
            current = await self._story(conn, story.id)
            if current.summary_upto != story.summary_upto:
                return False  # another refresh won
            await repo.update(conn, story.id, summary=summary, summary_upto=chunk[-1].seq)
        return True

    # --- internals ----------------------------------------------------------------------------------
    async def _advance(self, conn: aiosqlite.Connection, story: Story, resuming: bool = False) -> Outcome:
        """After a change in the turn phase: whose turn is it, or is the narrator due?

        A round that everyone skipped pauses the story; resuming it lets the world move on (the narrator
        answers the empty round) instead of pausing again at once.
        """
        if story.phase not in ("turns", "held") or story.paused:
            return Outcome(story)
        players = await repo.players(conn, story.id)
        if not players:
            story = await repo.update(conn, story.id, phase="held", deadline=None)
            return Outcome(story, note="Everyone has left, so the story waits. Anyone can `/story join`.")
        story = await repo.update(conn, story.id, phase="turns")
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
        story = await repo.update(conn, story.id, phase="narrating", deadline=None)
        return Outcome(story, narrate=True)

    async def _add_narration(self, conn: aiosqlite.Connection, story: Story, text: str, ending: bool) -> Outcome:
        turn = await turn_repo.add(
            conn, story.id, round=story.round, kind="narrator", author_id=None, text=text,
            tokens=self.memory.counter.count(text), words=word_count(text), now=self._now(),
        )  # fmt: skip
        if ending:
            story = await repo.update(conn, story.id, phase="ended", ended_at=self._now(), deadline=None)
            return Outcome(story, turn=turn)
        story = await repo.update(conn, story.id, round=story.round + 1, phase="turns")
        return replace(await self._advance(conn, story), turn=turn)

    async def _close_vote(self, conn: aiosqlite.Connection, story: Story, vote: Vote) -> VoteResult:
        winner, tally = vote_winner(vote, await vote_repo.ballots(conn, vote.id))
        await vote_repo.close(conn, vote.id, winner, self._now())
        ending = bool(story.max_rounds) and story.round >= story.max_rounds
        story = await repo.update(conn, story.id, phase="narrating")
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
        vote = await vote_repo.open_for(conn, story.id) if story.phase == "voting" else None
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
        if story is None or story.phase == "ended":
            raise NotFound("That story is over.")
        return story

    def _require_writable(self, story: Story) -> None:
        if story.paused:
            raise Conflict("The story is paused. A moderator or the starter can `/story resume` it.")
        if story.phase != "turns":
            raise Conflict(f"You cannot add a turn while the story is {_phase_words(story)}.")

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


def _phase_words(story: Story) -> str:
    if story.paused:
        return "paused"
    return {
        "lobby": "still gathering players",
        "narrating": "waiting for the narrator",
        "voting": "voting on what happens next",
        "held": "waiting for `/story retry`",
        "turns": "taking turns",
        "ended": "over",
    }[story.phase]


def with_rules(messages: list[dict[str, str]], settings: ConfigSnapshot) -> list[dict[str, str]]:
    """The prompt with the content rating, style note and language added to its system message."""
    if not messages or messages[0].get("role") != "system":
        return [{"role": "system", "content": rating_rules(settings)}, *messages]
    first = {**messages[0], "content": f"{messages[0]['content']}\n\n{rating_rules(settings)}"}
    return [first, *messages[1:]]
