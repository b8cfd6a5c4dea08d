"""NPCs inside story rounds (issue 10). Discord-free.

A player's turn that addresses an NPC of the story channel's scene ("Mira, what do you see?", or one that
names her) gets the NPC's answer before the narrator continues. The NPC hears the turn and answers through
the ordinary NPC path (`NpcConversation`: its memory, the safety gate, the rate limit); the answer is kept
as a story turn of kind 'npc', so the narrator's prompt, the summary, export and undo see it in order.

Undo: an NPC's answer belongs to the turn that addressed it. Undoing when an NPC turn is last removes
the NPC turn and the player's turn before it together (`undo_with_answer`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import aiosqlite

from bot.npcs.conversation import SAY_LIMIT, NpcConversation, NpcLine
from bot.npcs.model import Npc
from bot.npcs.speech import addressed
from bot.stories.rules import word_count
from bot.text import truncate
from storage import npc_stories as repo
from storage import stories as story_repo
from storage import turns as turn_repo
from storage.db import Database
from storage.stories import Phase, Story
from storage.turns import Turn

NPC_KIND = "npc"
OPEN_PHASES = (
    Phase.TURNS,
    Phase.NARRATING,
    Phase.HELD,
)  # an answer is kept only while the story is still at that round


def mentioned(npcs: list[Npc], text: str) -> Npc | None:
    """The NPC whose whole name a turn contains (any case), the earliest mention first, longest name on a tie."""
    best: tuple[int, int, Npc] | None = None
    for npc in npcs:
        found = re.search(rf"(?<!\w){re.escape(npc.name)}(?!\w)", text, re.IGNORECASE)
        if found and (best is None or (found.start(), -len(npc.name)) < best[:2]):
            best = (found.start(), -len(npc.name), npc)
    return best[2] if best else None


def addressee(scene: list[Npc], text: str) -> Npc | None:
    """Who a turn speaks to: the NPC it starts by naming ("Mira, …"), else the first one it names."""
    return addressed(scene, text) or mentioned(scene, text)


async def undo_with_answer(conn: aiosqlite.Connection, story_id: int, last: Turn) -> Turn:
    """Undo's call site: when the last turn is an NPC's answer, remove it and return the turn before it (the
    player's turn it answered, which undo then removes as usual). Any other turn is returned unchanged."""
    if last.kind != NPC_KIND:
        return last
    await turn_repo.delete(conn, last.id)
    before = await turn_repo.last(conn, story_id)
    return before if before is not None and before.kind == "player" else last


class StoryNpcs:
    def __init__(self, db: Database, talk: NpcConversation, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._talk = talk
        self._now = clock

    async def addressee(self, channel_id: int, text: str) -> Npc | None:
        return addressee(await self._talk.scene(channel_id), text)

    async def answer(self, story: Story, turn: Turn, player_name: str, npc: Npc) -> NpcLine:
        """The NPC hears the turn (as everyone in the scene does) and answers the player; raises `RateLimited`
        when the channel's NPCs have spoken too much lately (the story goes on without the answer)."""
        self._talk.rate.check(story.channel_id)
        heard = truncate(turn.text, SAY_LIMIT)
        await self._talk.hear(story.channel_id, turn.author_id or 0, player_name, heard, also=npc)
        return await self._talk.reply(npc, story.channel_id, to=player_name)

    async def record(self, story: Story, turn: Turn, line: NpcLine) -> Turn | None:
        """Keep the answer as a story turn right after the turn it answers; nothing when the line was
        withheld or empty, or the story has moved past that round."""
        if not line.text:
            return None
        async with self._db.transaction() as conn:
            now = await story_repo.get(conn, story.id)
            if now is None or now.round != turn.round or now.phase not in OPEN_PHASES:
                return None
            return await turn_repo.add(
                conn, story.id, round=turn.round, kind=NPC_KIND, author_id=None, text=line.text,
                tokens=self._talk.context.counter.count(line.text), words=word_count(line.text), now=self._now(),
                speaker=line.npc.name,
            )  # fmt: skip

    async def proxied_story(self, channel_id: int, user_id: int) -> Story | None:
        """The channel's open `as_characters` story, when `user_id` plays in it."""
        async with self._db.read() as conn:
            story = await story_repo.open_in_channel(conn, channel_id)
            if story is None or not await repo.as_characters(conn, story.id):
                return None
            players = await story_repo.players(conn, story.id)
        return story if any(p.user_id == user_id for p in players) else None

    async def as_characters(self, story_id: int) -> bool:
        async with self._db.read() as conn:
            return await repo.as_characters(conn, story_id)

    async def set_as_characters(self, story_id: int, on: bool) -> None:
        async with self._db.transaction() as conn:
            await repo.set_as_characters(conn, story_id, on)
