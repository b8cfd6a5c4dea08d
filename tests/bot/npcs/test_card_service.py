"""Card import/export against a real SQLite file: the NPC, its lore from the book, and the card back out;
a refused card stores nothing."""

from __future__ import annotations

import json

import pytest

from bot.errors import Conflict
from bot.moderation import Actor, ModerationService
from bot.npcs import card_png, cards
from bot.npcs.card_lore import book_to_lore
from bot.npcs.card_npc import CARD_META, card_to_npc, npc_to_card
from bot.npcs.card_service import CardService
from bot.npcs.cards import CardError
from bot.npcs.memory import NpcContextBuilder
from bot.npcs.service import NpcService
from bot.tokens import EstimatingCounter
from storage import lore as lore_repo
from storage import npcs as npc_repo
from storage.db import Database
from storage.npc_memory import ChannelState, Line
from tests.support import cards as fixtures

GUILD = 7


def actor(user_id: int = 1) -> Actor:
    return Actor.of(user_id, GUILD, False, ())


def service(db: Database) -> CardService:
    return CardService(db, NpcService(db, ModerationService(db)))


async def stored(db: Database) -> tuple[int, int]:
    async with db.read() as conn:
        npcs = await npc_repo.for_guild(conn, GUILD)
        lore = [e for n in npcs for e in await lore_repo.for_npc(conn, n.id)]
    return len(npcs), len(lore)


def test_card_and_npc_convert_both_ways_without_loss() -> None:
    card = cards.parse(fixtures.WREN_V2.read_bytes())
    npc = card_to_npc(card)
    assert npc.name == "Wren Ashdown" and npc.alternate_greetings == card.alternate_greetings
    assert npc.extra[CARD_META]["top"] == {"creatorcomment": "kept at the top level", "talkativeness": "0.6"}
    back = npc_to_card(npc, [])  # no lore at all: the book's lore entries were removed
    assert back.character_book is not None and [e.content for e in back.character_book.entries] == [
        "A disabled entry about the ghost lamp."
    ]
    assert cards.to_dict(npc_to_card(npc, book_to_lore(card.character_book)))["data"] == cards.to_dict(card)["data"]


async def test_import_stores_the_npc_and_its_lore_and_exports_the_same_card(db: Database) -> None:
    cards_service = service(db)
    imported = await cards_service.import_card(actor(), fixtures.WREN_V2.read_bytes())
    assert (imported.lore_entries, imported.book_entries) == (3, 4)
    assert imported.npc.id and imported.npc.creator_id == 1 and imported.npc.avatar_url is None
    async with db.read() as conn:
        lore = await lore_repo.for_npc(conn, imported.npc.id)
    bridge = next(e for e in lore if "Bridge" in e.content)
    assert bridge.keys == ("bridge",) and bridge.secondary_keys == ("tide", "smugglers") and bridge.priority == 20
    assert [e.constant for e in lore if "three islands" in e.content] == [True]

    exported = await cards_service.export_card(GUILD, "wren ashdown", "json")
    assert exported.filename == "Wren_Ashdown.json"
    original, out = fixtures.wren_v2(), json.loads(exported.data)
    assert out["spec"] == cards.V2 and out["creatorcomment"] == original["creatorcomment"]
    assert out["data"] == cards.to_dict(cards.parse(fixtures.WREN_V2.read_bytes()))["data"]
    assert CARD_META not in out["data"]


async def test_png_import_keeps_the_avatar_and_exports_a_png(db: Database) -> None:
    cards_service = service(db)
    imported = await cards_service.import_card(actor(), fixtures.v3_png(), avatar_url="https://cdn.example/oak.png")
    assert imported.npc.avatar_url == "https://cdn.example/oak.png"
    exported = await cards_service.export_card(GUILD, "Brother Oakum", "png", avatar=fixtures.v3_png())
    back = card_png.read(exported.data).card
    assert back.spec == cards.V3 and back.extra["nickname"] == "Oak"
    assert cards.to_dict(back)["data"] == cards.to_dict(cards.parse(json.dumps(fixtures.V3_CARD).encode()))["data"]
    # an avatar that is not an image: the card still goes out, on a placeholder
    fallback = await cards_service.export_card(GUILD, "Brother Oakum", "png", avatar=b"<html>")
    assert card_png.read(fallback.data).card.name == "Brother Oakum"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"not a card", "neither a JSON nor a PNG"),
        (fixtures.raw_png(100_000, 100_000), "pixels"),
        (json.dumps({"spec": cards.V2, "data": {"name": "Bad", "description": 5}}).encode(), "should be text"),
        (json.dumps({"spec": cards.V2, "data": {"name": "Clyde"}}).encode(), "cannot be an NPC here.*`name`"),
        (json.dumps({"spec": cards.V2, "data": {"name": "Long", "description": "x" * 9000}}).encode(), "persona"),
    ],
)
async def test_refused_cards_store_nothing(db: Database, raw: bytes, match: str) -> None:
    with pytest.raises(CardError, match=match):
        await service(db).import_card(actor(), raw)
    assert await stored(db) == (0, 0)


async def test_a_failure_after_the_npc_is_written_rolls_it_back(db: Database) -> None:
    cards_service = service(db)
    await cards_service.import_card(actor(), fixtures.WREN_V2.read_bytes())
    with pytest.raises(Conflict, match="already has an NPC called"):
        await cards_service.import_card(actor(2), fixtures.WREN_V2.read_bytes())
    assert await stored(db) == (1, 3)
    renamed = await cards_service.import_card(actor(2), fixtures.WREN_V2.read_bytes(), name="Wren Two")
    assert renamed.npc.name == "Wren Two" and await stored(db) == (2, 6)


async def test_an_imported_book_reaches_the_npc_prompt_as_its_cards_flags_say(db: Database) -> None:
    imported = await service(db).import_card(actor(), fixtures.WREN_V2.read_bytes())
    builder = NpcContextBuilder(EstimatingCounter(), budget=2048)
    state = ChannelState(imported.npc.id, 500, "", 0)
    async with db.read() as conn:
        lore = await lore_repo.for_npc(conn, imported.npc.id)

    def system(said: str) -> str:
        recent = [Line(1, imported.npc.id, 500, "player", 2, "Alice", said, 0, 0.0)]
        return builder.assemble(imported.npc, [], state, [], recent, lore, "Reply as Wren.").messages[0]["content"]

    quiet = system("Good evening.")
    assert "three islands" in quiet, "a constant entry is always there"
    assert "Guild" not in quiet and "Drowned Bridge" not in quiet and "ghost lamp" not in quiet
    assert "Lamplighters' Guild" in system("Are you with the GUILD?"), "keys match in any case"
    assert "Drowned Bridge" not in system("Take me to the bridge."), "selective: a secondary key is needed too"
    assert "Drowned Bridge" in system("Take me to the bridge before the tide.")
    assert "ghost lamp" not in system("Is that the ghost lamp?"), "a disabled entry is not lore"
