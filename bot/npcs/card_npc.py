"""A character card as an NPC and back: the card fields map one to one; what an `Npc` has no field for is
kept in its `extra` so that an export gives back the card that was imported.

`Npc.extra` holds the card's unknown `data` fields as they were, plus two keys of Taleweaver's own:
- `character_book`: the book as imported (its entries became the NPC's lore; see card_lore.py), for the
  fields lore has no place for;
- `CARD_META` (`_taleweaver_card`): the spec the card came in, its version, and its unknown top-level
  fields.
Both are taken out again on export, so they never appear inside an exported card's `data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.npcs import cards
from bot.npcs.card_lore import LoreLike, lore_to_book
from bot.npcs.cards import Card, CardError
from bot.npcs.model import Npc

BOOK_KEY = "character_book"
CARD_META = "_taleweaver_card"
_SAME_FIELDS = (
    "description", "personality", "scenario", "first_mes", "mes_example", "system_prompt",
    "post_history_instructions", "alternate_greetings", "tags", "creator", "creator_notes", "character_version",
)  # fmt: skip


def card_to_npc(card: Card, *, name: str | None = None) -> Npc:
    """An NPC not stored yet (id 0). `name` overrides the card's (for a name Discord would refuse)."""
    extra: dict[str, Any] = dict(card.extra)
    if card.character_book is not None:
        extra[BOOK_KEY] = cards.book_to_dict(card.character_book)
    extra[CARD_META] = {"spec": card.spec, "spec_version": card.spec_version, "top": dict(card.top_extra)}
    return Npc(
        name=name or card.name,
        **{f: getattr(card, f) for f in _SAME_FIELDS},
        extensions=dict(card.extensions),
        extra=extra,
    )


def npc_to_card(npc: Npc, lore: Sequence[LoreLike] = ()) -> Card:
    """The card for an NPC as it is now: its fields, its lore as the character book, its kept extras."""
    extra = dict(npc.extra)
    meta = extra.pop(CARD_META, None)
    meta = meta if isinstance(meta, dict) else {}
    book_raw = extra.pop(BOOK_KEY, None)
    try:
        original = cards.parse_book(book_raw)
    except CardError:  # stored by an older or foreign writer: the lore is still exported
        original = None
    top = meta.get("top")
    spec = meta["spec"] if meta.get("spec") in (cards.V1, cards.V2, cards.V3) else cards.V3
    return Card(
        name=npc.name,
        **{f: getattr(npc, f) for f in _SAME_FIELDS},
        character_book=lore_to_book(lore, original),
        extensions=dict(npc.extensions),
        extra=extra,
        top_extra=dict(top) if isinstance(top, dict) else {},
        spec=spec,
        spec_version=str(meta.get("spec_version") or "3.0"),
    )
