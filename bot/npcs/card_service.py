"""Importing a character card as a new NPC (with its book as the NPC's lore) and exporting an NPC as a card.

Discord-free: the cog hands over the uploaded bytes and gets bytes back. An import happens in one
transaction: a card that fails any check, or an NPC that may not be created, changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.moderation import Actor
from bot.npcs import card_png, cards
from bot.npcs.card_lore import book_to_lore
from bot.npcs.card_npc import card_to_npc, npc_to_card
from bot.npcs.cards import CardError
from bot.npcs.model import Npc
from bot.npcs.service import NpcService
from bot.text import InputProblem
from storage import lore as lore_repo
from storage.db import Database

Format = Literal["png", "json"]


@dataclass(frozen=True)
class Imported:
    npc: Npc
    lore_entries: int  # book entries that became the NPC's lore
    book_entries: int  # entries in the card's book


@dataclass(frozen=True)
class Exported:
    filename: str
    data: bytes


class CardService:
    def __init__(self, db: Database, npcs: NpcService, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._npcs = npcs
        self._now = clock

    async def import_card(
        self, actor: Actor, raw: bytes, *, avatar_url: str | None = None, name: str | None = None
    ) -> Imported:
        """A new NPC from a JSON or PNG card. `avatar_url` is where the uploaded PNG can be fetched (a PNG
        card is its own avatar); `name` replaces the card's name. Raises CardError or the NPC's own
        InputProblem/Conflict/NotAllowed, and then nothing is stored."""
        # Decoding a PNG is CPU work on untrusted input: off the event loop, so the gateway keeps beating.
        card, image = await asyncio.to_thread(card_png.read_any, raw)
        npc = card_to_npc(card, name=name).with_changes(avatar_url=avatar_url if image is not None else None)
        seeds = book_to_lore(card.character_book)
        async with self._db.transaction() as conn:
            try:
                npc = await self._npcs.create(actor, npc)  # joins this transaction
            except InputProblem as problem:
                hint = " `/npc import` takes a `name` to use instead." if "name" in str(problem) else ""
                raise CardError(f"This card's character cannot be an NPC here: {problem}{hint}") from None
            for seed in seeds:
                await lore_repo.add_for_npc(
                    conn, guild_id=actor.guild_id, npc_id=npc.id, keys=list(seed.keys), content=seed.content,
                    priority=seed.priority, author_id=actor.user_id, now=self._now(),
                    secondary_keys=list(seed.secondary_keys), constant=seed.constant,
                )  # fmt: skip
        book = card.character_book
        return Imported(npc, len(seeds), len(book.entries) if book else 0)

    async def export_card(self, guild_id: int, name: str, fmt: Format, avatar: bytes | None = None) -> Exported:
        """The NPC as a card file: JSON in the spec it came in (V3 for NPCs made here), or a PNG with both
        `chara` (V2) and `ccv3` (V3) chunks on its avatar (`avatar`, the image's bytes) or a placeholder."""
        npc = await self._npcs.get(guild_id, name)
        async with self._db.read() as conn:
            lore = await lore_repo.for_npc(conn, npc.id)
        card = npc_to_card(npc, lore)
        stem = _file_stem(npc.name)
        if fmt == "json":
            return Exported(f"{stem}.json", cards.dump_json(card))
        try:
            data = await asyncio.to_thread(card_png.write, card, avatar)
        except CardError:  # the avatar could not be used: the card still goes out, on a placeholder
            data = await asyncio.to_thread(card_png.write, card, None)
        return Exported(f"{stem}.png", data)


def _file_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
    return (stem or "character")[:60]
