"""A card's character book as an NPC's lore, and back.

Each enabled entry with something to trigger it becomes one lore entry of the NPC (storage/lore.py with
`npc_id`): its keys, its secondary keys when the entry is `selective`, `constant`, its content, and its
`insertion_order` as the lore priority (lower first, higher nearer the end of the prompt; when not all
triggered entries fit the budget, constants and then higher priorities win).

What the lore machinery cannot honour, and so only keeps for export (see `NOT_HONOURED`):
- `case_sensitive`: lore keys always match in any case, as whole words or phrases.
- `position` (before/after the character): lore always goes in one block of the system prompt.
- the entry's own `priority`, `use_regex` and other extensions (keys are matched literally);
- the book's `scan_depth`, `token_budget` and `recursive_scanning`: lore scans the latest lines and
  takes at most a quarter of the prompt budget.
- disabled entries, and entries with neither keys nor `constant`, never become lore.

Export rebuilds the book from the NPC's lore as it is now, taking the fields lore has no place for from
the card it was imported from (kept in the NPC's `extra`), so an unchanged NPC exports the book it came
with, entry for entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from bot.npcs.cards import BookEntry, CharacterBook

NOT_HONOURED = (
    "case_sensitive, position, the entry's own priority, use_regex, the book's scan_depth, token_budget and "
    "recursive_scanning (kept for export); disabled or keyless entries do not become lore"
)


class LoreLike(Protocol):
    """What lore keeps of an entry: storage.lore.LoreEntry has these, and so does LoreSeed."""

    @property
    def keys(self) -> tuple[str, ...]: ...
    @property
    def secondary_keys(self) -> tuple[str, ...]: ...
    @property
    def constant(self) -> bool: ...
    @property
    def content(self) -> str: ...
    @property
    def priority(self) -> int: ...


@dataclass(frozen=True)
class LoreSeed:
    """A lore entry to create for an NPC, from entry number `index` of its card's book."""

    keys: tuple[str, ...]
    secondary_keys: tuple[str, ...]
    constant: bool
    content: str
    priority: int
    index: int


def becomes_lore(entry: BookEntry) -> bool:
    return entry.enabled and bool(entry.content.strip()) and (entry.constant or any(k.strip() for k in entry.keys))


def book_to_lore(book: CharacterBook | None) -> list[LoreSeed]:
    if book is None:
        return []
    return [
        LoreSeed(
            keys=tuple(k for k in entry.keys if k.strip()),
            secondary_keys=tuple(k for k in entry.secondary_keys if k.strip()) if entry.selective else (),
            constant=entry.constant,
            content=entry.content,
            priority=entry.insertion_order,
            index=index,
        )
        for index, entry in enumerate(book.entries)
        if becomes_lore(entry)
    ]


def _shape(lore: LoreLike) -> tuple[tuple[str, ...], tuple[str, ...], bool, str, int]:
    return (tuple(lore.keys), tuple(lore.secondary_keys), bool(lore.constant), lore.content, lore.priority)


def lore_to_book(lore: Sequence[LoreLike], original: CharacterBook | None) -> CharacterBook | None:
    """The book to export: one entry per lore entry (in lore order), completed from the original entry it
    came from when it is unchanged, then the original's entries that never became lore, in their places."""
    if not lore and original is None:
        return None
    originals = list(original.entries) if original else []
    unmatched: dict[tuple[object, ...], list[int]] = {}
    for seed in book_to_lore(original):
        unmatched.setdefault(_shape(seed), []).append(seed.index)
    placed: dict[int, BookEntry] = {}
    fresh: list[BookEntry] = []
    for entry in lore:
        same = unmatched.get(_shape(entry))
        if same:
            index = same.pop(0)
            placed[index] = originals[index]
        else:
            fresh.append(_entry_from(entry))
    entries = [placed.get(i, e) for i, e in enumerate(originals) if i in placed or not becomes_lore(e)]
    base = original or CharacterBook(entries=())
    return replace(base, entries=tuple(entries + fresh))


def _entry_from(lore: LoreLike) -> BookEntry:
    """A lore entry changed or added since the import: what lore knows, in the spec's terms."""
    return BookEntry(
        keys=tuple(lore.keys),
        content=lore.content,
        secondary_keys=tuple(lore.secondary_keys),
        constant=bool(lore.constant),
        selective=bool(lore.secondary_keys),
        insertion_order=lore.priority,
        enabled=True,
    )
