"""Talking with NPCs: scenes, addressing, replies, `/scene act`, memory and the per-channel rate limit.

Discord-free: it takes ids, names and text, returns `NpcLine`s; the cog posts them through a webhook and
reports the message ids back (`posted`), so a reply to that message reaches the NPC.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiosqlite

from bot.engine_client import EngineClient, Sampling
from bot.errors import Conflict, NotFound, UserFacingError
from bot.moderation import Actor
from bot.npcs.memory import NpcContextBuilder
from bot.npcs.model import Npc
from bot.npcs.speech import act_instruction, addressed, clean_line, fill, render, reply_instruction, stop_sequences
from bot.text import clean_input, defuse_mentions, quote
from bot.tokens import EstimatingCounter, TokenCounter
from storage import npc_memory as memory_repo
from storage import npcs as repo
from storage.db import Database
from storage.npc_memory import Line

MAX_SCENE = 8  # NPCs in one channel's scene
MAX_ACT_TURNS = 6
SAY_LIMIT = 1500  # characters of what a player says to an NPC
SUMMARY_SHARE = 0.5  # fold old lines into the summary once they fill this share of the budget
SUMMARY_CHUNK = 60  # lines folded per refresh
KEEP_VERBATIM = 6  # the newest lines are never summarised away
ATTEMPTS = 2  # generations tried for one line before the NPC stays silent


class RateLimited(UserFacingError):
    """The channel's NPCs have spoken too often lately."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"🐢 The NPCs in this channel need a breather. Try again in about {max(1, round(retry_after))} seconds."
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class NpcLine:
    npc: Npc
    channel_id: int
    text: str  # cleaned; "" when the model wrote nothing usable (twice)
    truncated: bool = False

    @property
    def shown(self) -> str:
        """What the channel sees: the line, or a visible silence (so nobody waits for an answer forever)."""
        return self.text or f"*{self.npc.name} says nothing.*"


class ChannelRate:
    """At most `limit` NPC lines per `window` seconds in a channel (a sliding window; the clock is injectable)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self._now = limit, window, clock
        self._sent: dict[int, deque[float]] = {}

    def check(self, channel_id: int) -> deque[float]:
        """Raise `RateLimited` if the channel has no line left in its window (nothing is counted)."""
        now = self._now()
        sent = self._sent.setdefault(channel_id, deque())
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) >= self.limit:
            raise RateLimited(sent[0] + self.window - now)
        return sent

    def take(self, channel_id: int) -> None:
        """Count one line, or raise `RateLimited` without counting it."""
        self.check(channel_id).append(self._now())


class NpcConversation:
    def __init__(
        self,
        db: Database,
        engine: EngineClient,
        *,
        prompt_budget: int = 1536,
        line_tokens: int = 90,
        rate: ChannelRate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._engine = engine
        self.line_tokens = line_tokens
        self.context = NpcContextBuilder(EstimatingCounter(), prompt_budget)
        self.rate = rate or ChannelRate(8, 60.0)
        self._now = clock

    def use_counter(self, counter: TokenCounter) -> None:
        self.context.counter = counter

    # --- scenes --------------------------------------------------------------------------------------
    async def scene(self, channel_id: int) -> list[Npc]:
        async with self._db.read() as conn:
            return await repo.scene(conn, channel_id)

    async def add_to_scene(self, actor: Actor, channel_id: int, name: str) -> Npc:
        async with self._db.transaction() as conn:
            npc = await self._find(conn, actor.guild_id, name)
            if await repo.scene_size(conn, channel_id) >= MAX_SCENE:
                raise Conflict(f"A scene holds at most {MAX_SCENE} NPCs; `/scene remove` one first.")
            if not await repo.add_to_scene(conn, channel_id, npc.id, added_by=actor.user_id, now=self._now()):
                raise Conflict(f"{quote(npc.name, 80)} is already in this channel's scene.")
        return npc

    async def remove_from_scene(self, actor: Actor, channel_id: int, name: str) -> Npc:
        async with self._db.transaction() as conn:
            npc = await self._find(conn, actor.guild_id, name)
            if not await repo.remove_from_scene(conn, channel_id, npc.id):
                raise NotFound(f"{quote(npc.name, 80)} is not in this channel's scene.")
        return npc

    # --- who is spoken to ----------------------------------------------------------------------------
    async def addressed_in(self, channel_id: int, text: str) -> Npc | None:
        """The NPC of this channel's scene that a message starts by naming."""
        return addressed(await self.scene(channel_id), text)

    async def author_of(self, message_id: int) -> Npc | None:
        async with self._db.read() as conn:
            return await repo.author_of(conn, message_id)

    async def is_npc_webhook(self, webhook_id: int) -> bool:
        async with self._db.read() as conn:
            return webhook_id in await repo.webhook_ids(conn)

    # --- lines ---------------------------------------------------------------------------------------
    async def hear(
        self, channel_id: int, speaker_id: int, speaker_name: str, text: str, also: Npc | None = None
    ) -> str:
        """A player's line, remembered by every NPC present (and `also`, the one spoken to). Returns it cleaned."""
        text = clean_input(text, field="message", max_length=SAY_LIMIT)
        async with self._db.transaction() as conn:
            witnesses = {n.id for n in await repo.scene(conn, channel_id)} | ({also.id} if also else set())
            if witnesses:
                await memory_repo.remember(
                    conn, witnesses, channel_id=channel_id, speaker_kind="player", speaker_id=speaker_id,
                    speaker_name=speaker_name, text=text, tokens=self.context.counter.count(text), now=self._now(),
                )  # fmt: skip
        return text

    async def reply(self, npc: Npc, channel_id: int, *, to: str | None = None) -> NpcLine:
        """The NPC's next line in this channel (to the player called `to`, or to the scene), remembered by
        every NPC present. Raises `RateLimited` when the channel's NPCs have spoken too much lately."""
        self.rate.take(channel_id)
        async with self._db.read() as conn:
            present = await repo.scene(conn, channel_id)
            recent = await memory_repo.recent(conn, npc.id, channel_id, limit=12)
            others = [n.name for n in present if n.id != npc.id]
            speakers = _recent_speakers(recent, npc.name, first=to)
            instruction = reply_instruction(npc, to) if to is not None else act_instruction(npc, others)
            prompt = await self.context.build(
                conn, npc, channel_id, _unique(others + speakers), instruction, to or "the player"
            )
        sampling = Sampling(
            max_tokens=self.line_tokens, temperature=0.8, top_p=0.95, stop=stop_sequences(npc.name, speakers + others)
        )
        text, truncated = "", False
        for _ in range(ATTEMPTS):  # a small model sometimes writes only someone else's line: cleaned to nothing
            result = await self._engine.complete(prompt.messages, tenant=str(npc.guild_id), sampling=sampling)
            truncated = result.finish_reasons[0] == "length"
            text = clean_line(result.text, npc.name, _unique(others + speakers), truncated=truncated)
            if text:
                break
        if text:
            async with self._db.transaction() as conn:
                witnesses = {n.id for n in present} | {npc.id}
                await memory_repo.remember(
                    conn, witnesses, channel_id=channel_id, speaker_kind="npc", speaker_id=npc.id,
                    speaker_name=npc.name, text=text, tokens=self.context.counter.count(text), now=self._now(),
                )  # fmt: skip
        return NpcLine(npc, channel_id, text, truncated)

    async def greet(self, npc: Npc, channel_id: int) -> NpcLine:
        """The card's greeting as the NPC enters a scene (placeholders filled), remembered by those present."""
        present = await self.scene(channel_id)
        text = clean_input(fill(npc.first_mes, npc.name, "everyone"), field="greeting", max_length=4000)
        async with self._db.transaction() as conn:
            await memory_repo.remember(
                conn, {n.id for n in present} | {npc.id}, channel_id=channel_id, speaker_kind="npc",
                speaker_id=npc.id, speaker_name=npc.name, text=text, tokens=self.context.counter.count(text),
                now=self._now(),
            )  # fmt: skip
        return NpcLine(npc, channel_id, defuse_mentions(text))

    async def act(self, channel_id: int, turns: int) -> AsyncIterator[NpcLine]:
        """The NPCs present take turns speaking, at most `turns` lines (and MAX_ACT_TURNS); stops early when
        the rate limit is reached or nobody is there."""
        present = await self.scene(channel_id)
        if not present:
            raise NotFound("No NPC is in this channel's scene. `/scene add` brings one in.")
        for turn in range(min(turns, MAX_ACT_TURNS)):
            try:
                yield await self.reply(present[turn % len(present)], channel_id)
            except RateLimited:
                return

    async def posted(self, line: NpcLine, message_ids: list[int]) -> None:
        async with self._db.transaction() as conn:
            await repo.record_messages(conn, line.npc.id, line.channel_id, message_ids, now=self._now())

    async def refresh_summary(self, npc: Npc, channel_id: int) -> bool:
        """Fold the NPC's oldest lines in this channel into its summary once they take too much room."""
        async with self._db.read() as conn:
            state = await memory_repo.state(conn, npc.id, channel_id)
            if await memory_repo.unsummarized_tokens(conn, npc.id, channel_id, state.summary_upto) < (
                self.context.budget * SUMMARY_SHARE
            ):
                return False
            lines = await memory_repo.oldest(conn, npc.id, channel_id, after_id=state.summary_upto, limit=SUMMARY_CHUNK)
            newest = await memory_repo.recent(conn, npc.id, channel_id, limit=KEEP_VERBATIM)
        keep_from = newest[0].id if newest else 0
        chunk = [line for line in lines if line.id < keep_from]
        if not chunk:
            return False
        messages = [
            {"role": "system", "content": "You summarize conversations faithfully and briefly."},
            {
                "role": "user",
                "content": (
                    f"Summary so far:\n{state.summary or '(none)'}\n\nWhat was said next:\n"
                    + "\n".join(render(line) for line in chunk)
                    + f"\n\nWrite an updated summary, from {npc.name}'s point of view, in under 120 words. "
                    "Keep names, promises, facts and unresolved questions. Plain prose only."
                ),
            },
        ]
        result = await self._engine.complete(
            messages, tenant=str(npc.guild_id), sampling=Sampling(max_tokens=180, temperature=0.3)
        )
        summary = clean_line(result.text, npc.name, [])
        if not summary:
            return False
        async with self._db.transaction() as conn:
            if (await memory_repo.state(conn, npc.id, channel_id)).summary_upto != state.summary_upto:
                return False  # another refresh got there first
            await memory_repo.set_summary(conn, npc.id, channel_id, summary, chunk[-1].id)
        return True

    async def _find(self, conn: aiosqlite.Connection, guild_id: int, name: str) -> Npc:
        npc = await repo.by_name(conn, guild_id, name)
        if npc is None:
            raise NotFound(f"There is no NPC called “{quote(name, 80)}” on this server. `/npc list` shows them.")
        return npc


def _recent_speakers(recent: list[Line], npc_name: str, *, first: str | None) -> list[str]:
    """Everyone else who spoke lately, the most recent first (the addressed player before all)."""
    names = [first] if first else []
    for line in reversed(recent):
        if line.speaker_name.casefold() != npc_name.casefold():
            names.append(line.speaker_name)
    return _unique(names)


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out
