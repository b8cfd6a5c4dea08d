"""An NPC's prompt within a token budget, on the story memory machinery (bot/memory.py).

Layout, static parts first so a prefix cache can reuse them, volatile parts last:

    system:  rules · the character sheet · pinned facts · "what happened earlier here" summary · lore
    user:    as many recent lines as fit · the card's post-history instructions · the instruction

Everything read is scoped to one NPC in one channel: the lines it witnessed there, its summary and pins
for that channel; lore is the NPC's own plus the channel's. Lore triggers like the narrator's (keys in
the latest lines or the instruction, `bot.memory.triggered`) and also honours a card's constant entries
(always in) and secondary keys (one must appear too).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import aiosqlite

from bot.memory import LORE_HEADING, LORE_SCAN_DEPTH, LORE_SHARE, MESSAGE_OVERHEAD, RECENT_WINDOW, triggered
from bot.npcs.model import Npc
from bot.npcs.speech import NOTHING_YET, TRANSCRIPT_HEADING, fill, persona, render, rules
from bot.tokens import TokenCounter
from storage import lore as lore_repo
from storage import npc_memory as memory_repo
from storage.lore import LoreEntry
from storage.npc_memory import ChannelState, Line


@dataclass(frozen=True)
class NpcPrompt:
    messages: list[dict[str, str]]
    tokens: int
    lines_included: int
    lines_available: int
    lore_included: tuple[int, ...]
    summary_used: bool


def lore_hits(entries: list[LoreEntry], texts: list[str]) -> list[LoreEntry]:
    """Constant entries, and triggered entries whose secondary keys (if any) also appear."""
    hits = {e.id: e for e in entries if e.constant}
    for entry in triggered([e for e in entries if not e.constant], texts):
        if not entry.secondary_keys or triggered([replace(entry, keys=entry.secondary_keys)], texts):
            hits[entry.id] = entry
    return list(hits.values())


class NpcContextBuilder:
    def __init__(self, counter: TokenCounter, budget: int) -> None:
        self.counter = counter
        self.budget = budget

    async def build(
        self, conn: aiosqlite.Connection, npc: Npc, channel_id: int, others: list[str], instruction: str, user_name: str
    ) -> NpcPrompt:
        state = await memory_repo.state(conn, npc.id, channel_id)
        recent = await memory_repo.recent(conn, npc.id, channel_id, limit=RECENT_WINDOW, after_id=state.summary_upto)
        pins = await memory_repo.pins(conn, npc.id, channel_id)
        entries = await lore_repo.for_npc(conn, npc.id) + await lore_repo.for_channel(conn, channel_id)
        return self.assemble(npc, others, state, pins, recent, entries, instruction, user_name)

    def assemble(
        self,
        npc: Npc,
        others: list[str],
        state: ChannelState,
        pins: list[str],
        recent: list[Line],
        entries: list[LoreEntry],
        instruction: str,
        user_name: str = "the player",
    ) -> NpcPrompt:
        count = self.counter.count
        system_parts = [rules(npc, others), persona(npc, user_name)]
        if pins:
            system_parts.append("Facts that always hold:\n" + "\n".join(f"- {p}" for p in pins))
        if state.summary:
            system_parts.append(f"What happened here earlier:\n{state.summary}")
        system_parts = [p for p in system_parts if p]
        note = fill(npc.post_history_instructions, npc.name, user_name)
        fixed = sum(count(p) + 2 for p in [*system_parts, TRANSCRIPT_HEADING, note, instruction])
        room = self.budget - fixed - 2 * MESSAGE_OVERHEAD

        lore_block, lore_ids = self._lore(entries, recent, instruction, min(room, int(self.budget * LORE_SHARE)))
        if lore_block:
            system_parts.append(lore_block)
            room -= count(lore_block) + 2

        kept: list[str] = []
        for line in reversed(recent):  # newest first, until the budget is spent
            cost = (line.tokens or count(line.text)) + count(line.speaker_name) + 2
            if cost > room:
                break
            room -= cost
            kept.append(render(line))
        kept.reverse()
        if not kept:
            room -= count(NOTHING_YET)
        user = f"{TRANSCRIPT_HEADING}\n\n" + ("\n".join(kept) if kept else NOTHING_YET)
        if note:
            user += "\n\n" + note
        user += "\n\n" + instruction
        return NpcPrompt(
            messages=[{"role": "system", "content": "\n\n".join(system_parts)}, {"role": "user", "content": user}],
            tokens=self.budget - room,
            lines_included=len(kept),
            lines_available=len(recent),
            lore_included=tuple(lore_ids),
            summary_used=bool(state.summary),
        )

    def _lore(
        self, entries: list[LoreEntry], recent: list[Line], instruction: str, budget: int
    ) -> tuple[str, list[int]]:
        """As the narrator's: when not all fit, constants and then the highest priorities win; listed in order."""
        budget -= self.counter.count(LORE_HEADING) + 1
        if not entries or budget <= 0:
            return "", []
        scanned = [line.text for line in recent[-LORE_SCAN_DEPTH:]] + [instruction]
        chosen = []
        for entry in sorted(lore_hits(entries, scanned), key=lambda e: (not e.constant, -e.priority, e.id)):
            cost = self.counter.count(entry.content) + 3
            if cost > budget:
                continue
            budget -= cost
            chosen.append(entry)
        if not chosen:
            return "", []
        chosen.sort(key=lambda e: (e.priority, e.id))
        return LORE_HEADING + "\n" + "\n".join(f"- {e.content}" for e in chosen), [e.id for e in chosen]
