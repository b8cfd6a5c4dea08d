"""Long-story memory: assembling the narrator's prompt within a token budget.

Layout, static parts first so a prefix cache can reuse them, volatile parts last:

    system:  rules · title, genre, premise · cast · pinned facts · "the story so far" summary · lore
    user:    as many recent turns as fit · author's note · this round's instruction

Pinned facts are never dropped or summarised. Lore entries enter when one of their keys appears in the
last few turns or the instruction (SillyTavern-style), within a quarter of the budget: the highest
priorities first when not all fit, listed in insertion order.
Turns already folded into the rolling summary are skipped; of the rest, the newest that fit are kept.

Every read is bounded (the newest turns after the summary, the channel's lore, the story's pins and
players), and each turn's token count was stored when it was written, so the cost of building a prompt
does not grow with the length of the story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import aiosqlite

from bot.llm.tokens import TokenCounter
from bot.llm.types import ChatMessage, message
from bot.stories.prompts import RULES, cast_line, render_turn, story_header
from storage import lore as lore_repo
from storage import stories as story_repo
from storage import turns as turn_repo
from storage.lore import LoreEntry
from storage.stories import Player, Story
from storage.turns import Turn

RECENT_WINDOW = 200  # most turns ever considered for one prompt
LORE_SCAN_DEPTH = 6  # turns scanned for lore keys
LORE_SHARE = 0.25  # of the budget, at most
MESSAGE_OVERHEAD = 12  # chat-template tokens per message, roughly
TURNS_HEADING = "The story so far, most recent last:"
NO_TURNS_YET = "(The story has not started yet.)"
LORE_HEADING = "World lore:"


@dataclass(frozen=True)
class BuiltPrompt:
    messages: list[ChatMessage]
    tokens: int
    turns_included: int
    turns_available: int
    lore_included: tuple[int, ...]
    summary_used: bool


def triggered(entries: list[LoreEntry], texts: list[str]) -> list[LoreEntry]:
    """Entries with a key that appears (as a whole word or phrase, any case) in the texts."""
    haystack = "\n".join(texts).lower()
    hits = []
    for entry in entries:
        for key in entry.keys:
            key = key.lower()
            # The plain substring test first: most keys are absent, and it is far cheaper than the regex.
            if key and key in haystack and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", haystack):
                hits.append(entry)
                break
    return hits


class ContextBuilder:
    def __init__(self, counter: TokenCounter, budget: int) -> None:
        self.counter = counter
        self.budget = budget

    async def build(
        self, conn: aiosqlite.Connection, story: Story, players: list[Player], instruction: str
    ) -> BuiltPrompt:
        pins = await story_repo.pins(conn, story.id)
        recent = await turn_repo.recent(conn, story.id, limit=RECENT_WINDOW, after_seq=story.summary_upto)
        entries = await lore_repo.for_channel(conn, story.channel_id)
        # Players who left keep their name on what they wrote; only the active ones are the cast.
        names = {p.user_id: p.name for p in await story_repo.players(conn, story.id, active_only=False)}
        return self.assemble(story, players, [p.text for p in pins], recent, entries, instruction, names)

    def assemble(
        self,
        story: Story,
        players: list[Player],
        pins: list[str],
        recent: list[Turn],
        entries: list[LoreEntry],
        instruction: str,
        names: dict[int, str] | None = None,
    ) -> BuiltPrompt:
        count = self.counter.count
        names = names if names is not None else {p.user_id: p.name for p in players}
        system_parts = [RULES, story_header(story), cast_line(players)]
        if pins:
            system_parts.append("Facts that always hold:\n" + "\n".join(f"- {p}" for p in pins))
        if story.summary:
            system_parts.append(f"The story so far:\n{story.summary}")
        note = f"[Author's note: {story.author_note}]" if story.author_note else ""
        user_parts = [TURNS_HEADING, note, instruction]
        fixed = sum(count(p) + 2 for p in system_parts + user_parts) + 2 * MESSAGE_OVERHEAD
        room = self.budget - fixed

        lore_block, lore_ids = self._lore(entries, recent, instruction, min(room, int(self.budget * LORE_SHARE)))
        if lore_block:
            system_parts.append(lore_block)
            room -= count(lore_block) + 2

        kept: list[str] = []
        tags: dict[tuple[str, int | None, str], int] = {}
        for turn in reversed(recent):  # newest first, until the budget is spent
            speaker = (turn.kind, turn.author_id, turn.speaker)  # speaker: an NPC turn's name (issue 10)
            if speaker not in tags:  # "[Name (player)]: " can cost more than a short turn itself
                tags[speaker] = count(render_turn(replace(turn, text=""), names)) + 2  # + the blank line
            cost = (turn.tokens or count(turn.text)) + tags[speaker]
            if cost > room:
                break
            room -= cost
            kept.append(render_turn(turn, names))
        kept.reverse()
        if not kept:
            room -= count(NO_TURNS_YET)

        story_text = "\n\n".join(kept) if kept else NO_TURNS_YET
        user = f"{TURNS_HEADING}\n\n{story_text}"
        if note:
            user += "\n\n" + note
        user += "\n\n" + instruction
        messages = [message("system", "\n\n".join(system_parts)), message("user", user)]
        return BuiltPrompt(
            messages=messages,
            tokens=self.budget - room,
            turns_included=len(kept),
            turns_available=len(recent),
            lore_included=tuple(lore_ids),
            summary_used=bool(story.summary),
        )

    def _lore(
        self, entries: list[LoreEntry], recent: list[Turn], instruction: str, budget: int
    ) -> tuple[str, list[int]]:
        """The lore block and the ids in it. When not all triggered entries fit, the highest priorities win;
        they are still listed in insertion order (highest priority last, nearest the turns)."""
        budget -= self.counter.count(LORE_HEADING) + 1
        if not entries or budget <= 0:
            return "", []
        scanned = [t.text for t in recent[-LORE_SCAN_DEPTH:]] + [instruction]
        chosen = []
        for entry in sorted(triggered(entries, scanned), key=lambda e: (-e.priority, e.id)):
            cost = self.counter.count(entry.content) + 3
            if cost > budget:
                continue
            budget -= cost
            chosen.append(entry)
        if not chosen:
            return "", []
        chosen.sort(key=lambda e: (e.priority, e.id))
        return LORE_HEADING + "\n" + "\n".join(f"- {e.content}" for e in chosen), [e.id for e in chosen]
