"""Hostile and broken cards: each is refused with a specific CardError, never another exception."""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from bot.npcs import card_png, cards
from bot.npcs.cards import V2, CardError
from tests.support import cards as fixtures


def v2(**data: Any) -> bytes:
    return json.dumps({"spec": V2, "spec_version": "2.0", "data": {"name": "Wren", **data}}).encode()


def refused(raw: bytes, match: str) -> None:
    with pytest.raises(CardError, match=match):
        card_png.read_any(raw)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "neither a JSON nor a PNG"),
        (b"GIF89a\x01\x00", "neither a JSON nor a PNG"),
        (b"<html>hi</html>", "neither a JSON nor a PNG"),
        (b"{not json", "not valid JSON"),
        (b"{\xff\xfe}", "not UTF-8"),
        (b'{"spec": "chara_card_v9", "data": {"name": "x"}}', "Unsupported card spec"),
        (b'{"spec": 7, "data": {"name": "x"}}', "Unsupported card spec"),
        (b'{"spec": "chara_card_v2", "data": "Wren"}', "no `data` object"),
        (b'{"spec": "chara_card_v2"}', "no `data` object"),
        (b'{"description": "no name"}', "not a character card"),
        (b'{"data": {"name": "x"}}', "not a character card"),
    ],
)
def test_not_a_card(raw: bytes, match: str) -> None:
    refused(raw, match)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(CardError, match="should be an object"):
        cards.parse(b'["Wren"]')


@pytest.mark.parametrize("name", [None, "", "   ", "\u200b\u200d\u202e", 5, ["Wren"]])
def test_missing_or_bad_name(name: object) -> None:
    with pytest.raises(CardError, match="name"):
        cards.parse(json.dumps({"spec": V2, "data": {"name": name}}).encode())


def test_names_lose_bidi_controls_and_cannot_ping() -> None:
    card = cards.parse(v2(name="@everyone \u202eWren\u202c <@123> <@&456>\n@here"))
    assert "\u202e" not in card.name and "\u202c" not in card.name and "\n" not in card.name
    assert "@everyone" not in card.name and "@here" not in card.name
    assert "<@" not in card.name and "<@&" not in card.name
    assert "Wren" in card.name


def test_name_longer_than_discord_allows() -> None:
    with pytest.raises(CardError, match="80"):
        cards.parse(v2(name="W" * 81))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"description": 5}, "`description` should be text, not a number"),
        ({"personality": {"a": 1}}, "`personality` should be text, not an object"),
        ({"first_mes": True}, "`first_mes` should be text"),
        ({"alternate_greetings": "hi"}, "`alternate_greetings` should be a list of texts"),
        ({"alternate_greetings": ["hi", 2]}, "`alternate_greetings` should be a list of texts"),
        ({"tags": [None]}, "`tags` should be a list of texts"),
        ({"extensions": []}, "`extensions` should be an object"),
        ({"character_book": []}, "`character_book` should be an object"),
        ({"character_book": {"entries": {}}}, "`entries` should be a list"),
        ({"character_book": {"entries": ["x"]}}, "entry 1: should be an object"),
        ({"character_book": {"entries": [{"keys": "a", "content": "c"}]}}, "`keys` should be a list"),
        ({"character_book": {"entries": [{"keys": [], "content": 1}]}}, "`content` should be text"),
        ({"character_book": {"entries": [{"keys": [], "constant": "yes"}]}}, "`constant` should be true or false"),
        ({"character_book": {"entries": [{"keys": [], "insertion_order": "1"}]}}, "`insertion_order` should be"),
        ({"character_book": {"entries": [{"keys": [], "insertion_order": 1e300}]}}, "`insertion_order` should be"),
        ({"character_book": {"scan_depth": True}}, "`scan_depth` should be a whole number"),
        ({"nickname": 3}, "`nickname` should be text"),
        ({"assets": [{"uri": 1}]}, "`uri` should be text"),
        ({"assets": "x"}, "`assets` should be a list"),
        ({"creation_date": "yesterday"}, "`creation_date` should be a number"),
        ({"creator_notes_multilingual": {"fr": 1}}, "`fr` should be text"),
    ],
)
def test_fields_of_the_wrong_type(data: dict[str, Any], match: str) -> None:
    with pytest.raises(CardError, match=match):
        cards.parse(v2(**data))


def test_limits_on_sizes_and_counts() -> None:
    with pytest.raises(CardError, match="characters long; the limit is 50,000"):
        cards.parse(v2(description="x" * (cards.FIELD_LIMIT + 1)))
    with pytest.raises(CardError, match="alternate_greetings` has 101 items"):
        cards.parse(v2(alternate_greetings=["hi"] * 101))
    entries = [{"keys": ["k"], "content": "c"}] * (cards.MAX_BOOK_ENTRIES + 1)
    with pytest.raises(CardError, match="501 entries; the limit is 500"):
        cards.parse(v2(character_book={"entries": entries}))
    with pytest.raises(CardError, match="longer than 500"):
        cards.parse(v2(character_book={"entries": [{"keys": ["k" * 501], "content": "c"}]}))


def test_ten_megabyte_string_is_refused_by_size_before_parsing() -> None:
    raw = v2(description="x" * 10_000_000)
    refused(raw, "bytes; a card may be at most")
    with pytest.raises(CardError, match="bytes of JSON; the limit is 1,000,000"):
        cards.parse(raw[:4_000_000])


def test_deeply_nested_json() -> None:
    bomb = b'{"spec": "chara_card_v2", "data": {"name": "x", "extensions": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}"
    with pytest.raises(CardError, match="nested too deeply"):
        cards.parse(bomb)
    deep: Any = "bottom"
    for _ in range(cards.MAX_DEPTH):
        deep = {"d": deep}
    with pytest.raises(CardError, match="nested too deeply"):
        cards.parse(v2(extensions=deep))
    cards.parse(v2(extensions={"fine": {"a": [1, {"b": 2}]}}))


def test_png_too_big() -> None:
    refused(fixtures.png({}) + b"\x00" * card_png.MAX_PNG_BYTES, "bytes; a card may be at most")


def test_png_without_a_card() -> None:
    refused(fixtures.png({"Comment": "just a picture"}), "no character card")


def test_png_card_chunk_is_not_base64_json() -> None:
    refused(fixtures.png({"chara": "%%% not base64 %%%"}), "not valid base64")
    refused(fixtures.png({"chara": "bm90IGpzb24="}), "not valid JSON")  # "not json"


def test_png_claiming_billions_of_pixels_is_refused_before_decoding() -> None:
    # 100,000 × 100,000 greyscale declared in a file of a few hundred bytes.
    refused(fixtures.raw_png(100_000, 100_000), "claims 100,000×100,000 pixels")
    refused(fixtures.raw_png(9000, 10), "at most 8,192 a side")


def test_png_that_inflates_into_a_bomb_of_pixels() -> None:
    # Within the declared limits, but the pixel data is a zlib bomb: it may decode only to the declared size.
    idat = zlib.compress(b"\x00" * 50_000_000, 9)
    raw = fixtures.raw_png(
        4096, 4096, fixtures.chunk(b"tEXt", b"ccv3\x00" + fixtures.b64(fixtures.V3_CARD).encode()), idat
    )
    assert len(raw) < 100_000
    card, _ = card_png.read_any(raw)  # decoding stops at 4096×4096: bounded, and the card is found
    assert card.name == "Brother Oakum"


def test_png_huge_compressed_text_chunks() -> None:
    inflates = zlib.compress(b"A" * 50_000_000, 9)  # about 50 KB that inflates to 50 MB
    ztxt = fixtures.chunk(b"zTXt", b"ccv3\x00\x00" + inflates)
    refused(fixtures.raw_png(8, 8, ztxt), "could not be read")
    itxt = fixtures.chunk(b"iTXt", b"chara\x00\x01\x00\x00\x00" + inflates)
    refused(fixtures.raw_png(8, 8, itxt), "could not be read")


def test_png_too_many_or_too_large_text_chunks() -> None:
    many = b"".join(fixtures.chunk(b"tEXt", b"k%d\x00v" % i) for i in range(card_png.MAX_TEXT_CHUNKS + 1))
    refused(fixtures.raw_png(8, 8, many), "more text than a character card needs")
    large = fixtures.chunk(b"tEXt", b"chara\x00" + b"A" * (card_png.MAX_TEXT_CHUNK_BYTES + 1))
    refused(fixtures.raw_png(8, 8, large), "more text than a character card needs")


def test_png_cut_short_or_without_header() -> None:
    good = fixtures.v3_png()
    refused(good[:40], "cut short")
    refused(good[:8] + fixtures.chunk(b"IEND", b""), "no image header")
    # A chunk length that points far past the end of the file.
    refused(good[:8] + struct.pack(">I", 2**31) + b"IHDR", "cut short")


def test_png_with_a_corrupt_chunk_crc() -> None:
    raw = bytearray(fixtures.v3_png())
    raw[29] ^= 0xFF  # inside IHDR's CRC
    refused(bytes(raw), "could not be read")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
CARD_KEYS = ["name", "description", "tags", "alternate_greetings", "character_book", "extensions", "assets"]
card_keys = st.sampled_from([*CARD_KEYS, "nickname", "creation_date", "spec", "data", "entries", "keys", "content"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.dictionaries(card_keys | st.text(max_size=8), json_values, max_size=8),
    spec=st.sampled_from([V2, "chara_card_v3", None]),
)
def test_any_json_is_a_card_or_a_card_error(data: dict[str, Any], spec: str | None) -> None:
    obj: dict[str, Any] = {"spec": spec, "data": data} if spec else data
    try:
        card = cards.parse(json.dumps(obj).encode())
    except CardError as error:
        assert str(error)
        return
    # What is accepted round-trips: re-importing an export gives the same export.
    assert card.name and cards.to_dict(cards.parse(cards.dump_json(card))) == cards.to_dict(card)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_card_or_a_card_error(raw: bytes) -> None:
    for candidate in (raw, fixtures.v3_png()[:60] + raw, b"{" + raw):
        try:
            card_png.read_any(candidate)
        except CardError:
            pass


def test_avatar_images_are_bounded_too() -> None:
    with pytest.raises(CardError, match="claims 100,000×100,000 pixels"):
        card_png.avatar_image(fixtures.raw_png(100_000, 100_000))
    with pytest.raises(CardError, match="could not be read"):
        card_png.avatar_image(b"RIFF\x00\x00\x00\x00WEBPVP8 garbage")
    big_jpeg = io.BytesIO()
    Image.new("L", (9000, 1)).save(big_jpeg, format="JPEG")
    with pytest.raises(CardError, match="claims 9,000×1 pixels"):
        card_png.avatar_image(big_jpeg.getvalue())


def test_animated_png_cards_are_bounded_by_frames() -> None:
    def apng(frames: int, size: tuple[int, int]) -> bytes:
        info = PngImagePlugin.PngInfo()
        info.add_text("ccv3", fixtures.b64(fixtures.V3_CARD))
        images = [Image.new("L", size, i % 256) for i in range(frames)]
        out = io.BytesIO()
        images[0].save(out, format="PNG", save_all=True, append_images=images[1:], pnginfo=info)
        return out.getvalue()

    assert card_png.read(apng(3, (16, 16))).card.name == "Brother Oakum"  # a small animation is fine
    refused(apng(card_png.MAX_FRAMES + 1, (4, 4)), "animation of")
    # acTL may declare far more frames than the file holds
    actl = fixtures.chunk(b"acTL", struct.pack(">II", 2**31, 0))
    refused(fixtures.raw_png(8, 8, actl), "animation of 2,147,483,648 frames")
