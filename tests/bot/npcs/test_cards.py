"""Character cards in and out (V1, V2, V3 JSON; PNG): every field, unknown ones kept, round trips exact."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from bot.npcs import card_png, cards
from bot.npcs.cards import V2, V3, Card, CardError
from tests.support import cards as fixtures


def without_book(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "character_book"}


def assert_book_kept(original: dict[str, Any], exported: dict[str, Any]) -> None:
    """Every field of the original book and its entries comes back with the same value (absent optional
    fields may come back with their spec default, e.g. `secondary_keys: []`)."""
    assert without_book_entries(exported) == without_book_entries(original)
    assert len(exported["entries"]) == len(original["entries"])
    for before, after in zip(original["entries"], exported["entries"], strict=True):
        assert {k: after[k] for k in before} == before


def without_book_entries(book: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in book.items() if k != "entries"}


def test_v2_card_reads_every_field() -> None:
    card = cards.parse(fixtures.WREN_V2.read_bytes())
    assert card.spec == V2 and card.spec_version == "2.0"
    assert card.name == "Wren Ashdown"  # from data, not the V1 copy at the top
    assert card.personality.startswith("Wry") and card.scenario.startswith("Night")
    assert card.first_mes.startswith("*Wren") and "{{char}}" in card.mes_example
    assert card.system_prompt.endswith("{{original}}") and card.post_history_instructions.startswith("Stay")
    assert len(card.alternate_greetings) == 2
    assert card.tags == ("fantasy", "city", "original")
    assert (card.creator, card.character_version) == ("taleweaver-tests", "1.2")
    assert card.creator_notes.startswith("An original")
    assert card.extensions["x_taleweaver_unknown"] == {"nested": [1, 2, {"deep": "kept"}]}
    assert card.extra == {"x_data_unknown": "an unknown data field survives"}
    assert card.top_extra == {"creatorcomment": "kept at the top level", "talkativeness": "0.6"}
    book = card.character_book
    assert book is not None and book.name == "Velm" and book.scan_depth == 4 and book.token_budget == 512
    guild, bridge, velm, ghost = book.entries
    assert guild.keys == ("lamplighters", "guild") and guild.insertion_order == 10 and guild.priority == 5
    assert guild.name == "Guild" and guild.comment == "the guild" and guild.position == "before_char"
    assert guild.extensions == {"x_entry": 1}
    assert bridge.selective and bridge.secondary_keys == ("tide", "smugglers")
    assert velm.constant and velm.extra == {"x_entry_unknown": "kept"}
    assert not ghost.enabled


def test_v2_round_trip_keeps_everything() -> None:
    original = fixtures.wren_v2()
    exported = cards.to_dict(cards.parse(fixtures.WREN_V2.read_bytes()))
    assert exported["spec"] == V2 and exported["spec_version"] == "2.0"
    assert exported["creatorcomment"] == original["creatorcomment"]
    assert without_book(exported["data"]) == without_book(original["data"])
    assert_book_kept(original["data"]["character_book"], exported["data"]["character_book"])
    # and a second round trip is exact
    again = cards.to_dict(cards.parse(json.dumps(exported).encode()))
    assert again == exported


def test_v3_round_trip_keeps_v3_fields_and_unknowns() -> None:
    original = fixtures.v3_card()
    card = cards.parse(json.dumps(original).encode())
    assert card.spec == V3 and card.name == "Brother Oakum"
    assert card.extra["nickname"] == "Oak" and card.extra["assets"][0]["uri"] == "ccdefault:"
    assert card.character_book is not None and card.character_book.entries[0].extra == {"use_regex": False}
    exported = cards.to_dict(card)
    assert exported["x_top_unknown"] == {"kept": True}
    assert without_book(exported["data"]) == without_book(original["data"])
    assert_book_kept(original["data"]["character_book"], exported["data"]["character_book"])


def test_v2_card_written_as_v3_gains_the_required_v3_fields() -> None:
    card = cards.parse(fixtures.WREN_V2.read_bytes())
    v3 = cards.to_dict(card, V3)
    assert (v3["spec"], v3["spec_version"]) == (V3, "3.0")
    assert v3["data"]["group_only_greetings"] == []
    assert cards.parse(json.dumps(v3).encode()).name == card.name


def test_v1_flat_card_is_read_and_written_as_v2() -> None:
    flat = {"name": "Pell", "description": "A ferryman.", "first_mes": "Fare?", "avatar": "none", "chat": "x"}
    card = cards.parse(json.dumps(flat).encode())
    assert (card.name, card.description, card.first_mes, card.spec) == ("Pell", "A ferryman.", "Fare?", cards.V1)
    written = cards.to_dict(card)
    assert written["spec"] == V2 and written["data"]["name"] == "Pell"
    assert written["avatar"] == "none" and written["chat"] == "x"


def test_v3_entry_ids_may_be_text_and_positions_numbers() -> None:
    book = {"entries": [{"keys": ["k"], "content": "c", "id": "lore-1", "position": 1, "use_regex": False}]}
    card = cards.parse(json.dumps({"spec": V3, "data": {"name": "N", "character_book": book}}).encode())
    assert card.character_book is not None
    (entry,) = card.character_book.entries
    assert (entry.id, entry.position) == ("lore-1", 1)
    assert cards.to_dict(card)["data"]["character_book"]["entries"][0]["id"] == "lore-1"
    with pytest.raises(CardError, match="`id` should be a whole number"):
        cards.parse(json.dumps({"spec": V3, "data": {"name": "N", "character_book": {"entries": [
            {"keys": [], "content": "c", "id": [1]}]}}}).encode())  # fmt: skip


def test_nulls_count_as_empty_text() -> None:
    card = cards.parse(json.dumps({"spec": V2, "data": {"name": "N", "creator": None, "tags": None}}).encode())
    assert card.creator == "" and card.tags == ()


def test_png_card_prefers_ccv3_over_chara() -> None:
    v2 = {"spec": V2, "spec_version": "2.0", "data": {"name": "Old Name"}}
    raw = fixtures.png({"chara": fixtures.b64(v2), "ccv3": fixtures.b64(fixtures.V3_CARD)})
    assert card_png.read(raw).card.name == "Brother Oakum"
    assert card_png.read(fixtures.png({"chara": fixtures.b64(v2)})).card.name == "Old Name"


def test_png_written_carries_both_chunks_and_reads_back() -> None:
    card = cards.parse(fixtures.WREN_V2.read_bytes())
    raw = card_png.write(card)  # no avatar: a placeholder image
    chunks = {k: json.loads(base64.b64decode(v)) for k, v in _png_texts(raw).items()}
    assert set(chunks) == {"chara", "ccv3"}
    assert chunks["chara"]["spec"] == V2 and chunks["ccv3"]["spec"] == V3
    assert chunks["chara"]["data"]["extensions"] == chunks["ccv3"]["data"]["extensions"] == card.extensions
    back = card_png.read(raw).card
    assert _fields(back) == _fields(card)


def test_png_export_keeps_the_avatar_and_drops_its_old_card() -> None:
    avatar = fixtures.png({"chara": fixtures.b64({"spec": V2, "data": {"name": "Stale"}})}, size=(30, 20))
    card = cards.parse(json.dumps(fixtures.V3_CARD).encode())
    raw = card_png.write(card, avatar)
    with Image.open(io.BytesIO(raw)) as image:
        assert image.size == (30, 20)
    assert card_png.read(raw).card.name == "Brother Oakum"


def test_placeholder_is_small_and_stable() -> None:
    one, two = card_png.placeholder("Wren"), card_png.placeholder("Wren")
    assert one.size == (card_png.PLACEHOLDER_SIZE,) * 2 and one.tobytes() == two.tobytes()


def test_read_any_tells_json_from_png_by_content() -> None:
    card, image = card_png.read_any(fixtures.WREN_V2.read_bytes())
    assert card.name == "Wren Ashdown" and image is None
    raw = fixtures.v3_png()
    card, image = card_png.read_any(raw)
    assert card.name == "Brother Oakum" and image == raw
    with pytest.raises(CardError, match="neither a JSON nor a PNG"):
        card_png.read_any(b"GIF89a....")


def _fields(card: Card) -> dict[str, Any]:
    """Everything but where it came from (spec) and the spec-version stamp."""
    out = dict(card.__dict__)
    for name in ("spec", "spec_version"):
        out.pop(name)
    out["extra"] = {k: v for k, v in card.extra.items() if k != "group_only_greetings"}
    return out


def _png_texts(raw: bytes) -> dict[str, str]:
    with Image.open(io.BytesIO(raw)) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        return dict(image.text)


def test_png_export_takes_a_jpeg_avatar() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(jpeg, format="JPEG")
    raw = card_png.write(cards.parse(fixtures.WREN_V2.read_bytes()), jpeg.getvalue())
    assert card_png.is_png(raw) and card_png.read(raw).card.name == "Wren Ashdown"
    with Image.open(io.BytesIO(raw)) as image:
        assert image.size == (40, 30)
