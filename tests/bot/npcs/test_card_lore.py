"""A card's character book as NPC lore and back (pure mapping; the stored round trip is in the e2e test)."""

from __future__ import annotations

from dataclasses import replace

from bot.npcs import cards
from bot.npcs.card_lore import LoreSeed, book_to_lore, lore_to_book
from bot.npcs.cards import BookEntry, CharacterBook
from tests.support import cards as fixtures


def wren_book() -> CharacterBook:
    book = cards.parse(fixtures.WREN_V2.read_bytes()).character_book
    assert book is not None
    return book


def test_enabled_entries_become_lore_with_what_lore_can_honour() -> None:
    seeds = book_to_lore(wren_book())
    assert [s.index for s in seeds] == [0, 1, 2]  # the disabled "ghost lamp" entry does not
    guild, bridge, velm = seeds
    assert guild.keys == ("lamplighters", "guild") and guild.priority == 10 and not guild.constant
    assert guild.secondary_keys == ()  # not selective: no secondary keys to require
    assert bridge.secondary_keys == ("tide", "smugglers")  # selective: one of them must also come up
    assert velm.constant and velm.priority == 5
    assert guild.content.startswith("The Lamplighters' Guild")


def test_secondary_keys_of_a_non_selective_entry_are_not_required() -> None:
    entry = BookEntry(keys=("a",), content="c", secondary_keys=("b",), selective=False)
    (seed,) = book_to_lore(CharacterBook(entries=(entry,)))
    assert seed.secondary_keys == ()
    # ...but they come back on export
    back = lore_to_book([seed], CharacterBook(entries=(entry,)))
    assert back is not None and back.entries == (entry,)


def test_entries_without_keys_or_content_are_not_lore() -> None:
    book = CharacterBook(
        entries=(
            BookEntry(keys=(), content="nothing triggers me"),
            BookEntry(keys=(" ",), content="blank keys"),
            BookEntry(keys=("k",), content="  "),
            BookEntry(keys=(), content="always here", constant=True),
        )
    )
    assert [s.index for s in book_to_lore(book)] == [3]


def test_unchanged_lore_exports_the_original_book_exactly() -> None:
    book = wren_book()
    # Lore comes back from storage ordered by priority, not in book order.
    lore = sorted(book_to_lore(book), key=lambda s: s.priority)
    assert lore_to_book(lore, book) == book


def test_changed_and_new_lore_is_exported_and_removed_lore_is_gone() -> None:
    book = wren_book()
    guild, bridge, velm = book_to_lore(book)
    edited = replace(bridge, content="The bridge was rebuilt in stone.")
    added = LoreSeed(keys=("ferry",), secondary_keys=("night",), constant=False, content="No ferry at night.",
                     priority=50, index=-1)  # fmt: skip
    out = lore_to_book([velm, edited, added], book)  # the guild entry was removed
    assert out is not None
    contents = [e.content for e in out.entries]
    assert guild.content not in contents and bridge.content not in contents
    assert contents[:2] == [velm.content, "A disabled entry about the ghost lamp."]  # originals keep their order
    new_bridge, ferry = out.entries[2:]
    assert new_bridge.content == "The bridge was rebuilt in stone." and new_bridge.selective
    assert ferry.keys == ("ferry",) and ferry.secondary_keys == ("night",) and ferry.selective
    assert ferry.insertion_order == 50 and ferry.enabled
    assert out.name == "Velm" and out.extensions == book.extensions  # the book's own fields stay


def test_duplicate_entries_each_find_their_original() -> None:
    twin = BookEntry(keys=("k",), content="same", name="first")
    book = CharacterBook(entries=(twin, replace(twin, name="second")))
    out = lore_to_book(book_to_lore(book), book)
    assert out == book


def test_no_book_and_no_lore_exports_no_book() -> None:
    assert lore_to_book([], None) is None
    seed = LoreSeed(keys=("k",), secondary_keys=(), constant=True, content="c", priority=1, index=0)
    out = lore_to_book([seed], None)
    assert out is not None and out.entries[0].constant and out.entries[0].keys == ("k",)
