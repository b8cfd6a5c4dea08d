"""/npc import and /npc export end to end: the real bot (discord.py) against the loopback Discord, with the
card uploaded as an attachment and the export downloaded from the bot's reply, a real SQLite file and the
real engine (the imported PNG character then speaks through a webhook under the card's name and image).

The cards are small originals in tests/support/cards. Export is compared with the uploaded card field by
field: every `data` field, the book entry for entry, unknown fields and extensions included.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from bot.npcs import cards
from storage import lore as lore_repo
from storage import npcs as npc_repo
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.fakediscord import FakeDiscord, FakeInteraction, Message
from tests.fakediscord.permissions import MANAGE_GUILD
from tests.support import cards as fixtures
from tests.support.engine_proc import EngineProcess
from tests.support.engine_proxy import EngineProxy
from tests.support.pace import Pace


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture(scope="module")
def world(fake: FakeDiscord) -> World:
    mod = fake.add_user("mod")
    guild = fake.add_guild("Card Guild", owner=mod)
    keepers = fake.add_role(guild, "Keepers", permissions=MANAGE_GUILD)
    alice, bob, cara = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("cara")
    for user in (alice, bob, cara):
        fake.add_member(guild, user)
    return World(
        guild, fake.add_channel(guild, "tavern"), fake.add_channel(guild, "library"), mod, alice, bob, cara, keepers
    )


@pytest.fixture(scope="module")
async def proxy(engine: EngineProcess) -> AsyncIterator[EngineProxy]:
    proxy = await EngineProxy(engine.url).start()
    yield proxy
    await proxy.stop()


@pytest.fixture(scope="module")
async def tw(
    fake: FakeDiscord, world: World, proxy: EngineProxy, tmp_path_factory: pytest.TempPathFactory, pace: Pace
) -> AsyncIterator[BotHandle]:
    handle = BotHandle(
        fake, proxy.url, Path(tmp_path_factory.mktemp("cards")) / "taleweaver.db", world.guild, pace.engine_timeout,
        proxy=proxy, settings_extra={"npc_line_tokens": 24},
    )  # fmt: skip
    await handle.start()
    yield handle
    await handle.stop()


@pytest.fixture(autouse=True)
def hang_guard(request: pytest.FixtureRequest, pace: Pace) -> None:
    request.node.add_marker(pytest.mark.timeout(pace.hang_guard, func_only=True), append=False)


async def upload(tw: BotHandle, world: World, filename: str, data: bytes, **options: object) -> Message:
    ix = await tw.fake.invoke(world.alice, world.channel, "npc import", card=(filename, data), **options)
    await ix.wait_acknowledged()
    return await reply(ix)


async def reply(ix: FakeInteraction) -> Message:
    message = await ix.wait_original()
    assert message.ephemeral, "card import and export answer only the user"
    return message


async def export(tw: BotHandle, world: World, name: str, fmt: str) -> tuple[Message, bytes]:
    ix = await tw.fake.invoke(world.bob, world.channel, "npc export", npc=name, format=fmt)
    await ix.wait_acknowledged()
    message = await reply(ix)
    assert len(message.attachments) == 1, message.content
    return message, message.attachments[0].data


async def stored(tw: BotHandle) -> tuple[list[str], int]:
    assert tw.bot is not None
    async with tw.bot.db.read() as conn:
        npcs = await npc_repo.for_guild(conn, tw.guild.id)
        lore = [e for n in npcs for e in await lore_repo.for_npc(conn, n.id)]
    return [n.name for n in npcs], len(lore)


def assert_same_card(original: dict[str, Any], exported: dict[str, Any]) -> None:
    """Field by field: every `data` field of the upload comes back with its value; the book entry for entry
    (an entry's absent optional fields may come back with their spec default)."""
    data, out = original["data"], exported["data"]
    for name, value in data.items():
        if name != "character_book":
            assert out[name] == value, name
    book, out_book = data["character_book"], out["character_book"]
    assert {k: out_book[k] for k in book if k != "entries"} == {k: v for k, v in book.items() if k != "entries"}
    assert len(out_book["entries"]) == len(book["entries"])
    for before, after in zip(book["entries"], out_book["entries"], strict=True):
        assert {k: after[k] for k in before} == before
    for name, value in original.items():  # unknown top-level fields; the V1 copies are rewritten from data
        if name not in (*cards.V1_FIELDS, "data"):
            assert exported[name] == value, name


def png_chunks(raw: bytes) -> tuple[tuple[int, int], dict[str, Any]]:
    with Image.open(io.BytesIO(raw)) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        return image.size, {k: json.loads(base64.b64decode(v)) for k, v in image.text.items()}


async def test_v2_json_card_with_book_and_greetings_round_trips(world: World, tw: BotHandle) -> None:
    message = await upload(tw, world, "wren.json", fixtures.WREN_V2.read_bytes())
    assert "Wren Ashdown" in message.content and "3 of the 4" in message.content, message.content
    names, lore = await stored(tw)
    assert "Wren Ashdown" in names and lore == 3, "enabled book entries became the NPC's lore"

    _, raw = await export(tw, world, "wren ashdown", "json")
    exported = json.loads(raw)
    assert exported["spec"] == cards.V2, "a card goes out in the spec it came in"
    assert_same_card(fixtures.wren_v2(), exported)
    assert exported["data"]["extensions"]["x_taleweaver_unknown"] == {"nested": [1, 2, {"deep": "kept"}]}
    assert len(exported["data"]["alternate_greetings"]) == 2


async def test_v3_png_card_becomes_avatar_speaks_and_round_trips(
    fake: FakeDiscord, world: World, tw: BotHandle
) -> None:
    message = await upload(tw, world, "oakum.png", fixtures.v3_png())
    assert "Brother Oakum" in message.content and "avatar" in message.content, message.content
    assert tw.bot is not None
    async with tw.bot.db.read() as conn:
        oakum = await npc_repo.by_name(conn, tw.guild.id, "Brother Oakum")
    assert oakum is not None and oakum.avatar_url is not None and oakum.avatar_url.endswith("/oakum.png")

    _, raw = await export(tw, world, "Brother Oakum", "png")
    size, chunks = png_chunks(raw)
    assert size == (48, 64), "the exported PNG is the card's own image, fetched back from its avatar link"
    assert set(chunks) == {"chara", "ccv3"}
    assert chunks["ccv3"]["spec"] == cards.V3 and chunks["chara"]["spec"] == cards.V2
    assert_same_card(fixtures.v3_card(), chunks["ccv3"])
    assert chunks["chara"]["data"]["name"] == "Brother Oakum"

    _, raw = await export(tw, world, "Brother Oakum", "json")
    assert_same_card(fixtures.v3_card(), json.loads(raw))

    say = await fake.invoke(world.alice, world.channel, "npc say", npc="Brother Oakum", text="Is the bread ready?")
    await say.wait_acknowledged()
    line = await tw.wait(
        lambda: next((m for m in fake.messages(world.channel) if m.webhook_id and m.username == "Brother Oakum"), None),
        what="Brother Oakum's line", channel=world.channel,
    )  # fmt: skip
    assert line.avatar_url == oakum.avatar_url, "the card's image is the webhook avatar"
    assert not no_pings(fake.messages(world.channel))


def nested(depth: int) -> bytes:
    return b'{"spec": "chara_card_v2", "data": {"name": "Deep", "extensions": ' + b"[" * depth + b"]" * depth + b"}}"


@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        ("notes.txt", b"just some notes", "neither a JSON nor a PNG"),
        ("bomb.png", fixtures.raw_png(100_000, 100_000), "100,000×100,000 pixels"),
        ("deep.json", nested(50_000), "nested too deeply"),
        ("huge.json", b'{"spec": "chara_card_v2", "data": {"name": "H", "description": "' + b"x" * 6_000_000 + b'"}}',
         "a card may be at most"),
        ("v9.json", b'{"spec": "chara_card_v9", "data": {"name": "Nine"}}', "Unsupported card spec"),
        ("noname.json", b'{"spec": "chara_card_v2", "data": {"description": "who?"}}', "no character name"),
        ("ping.json", json.dumps({"spec": "chara_card_v2", "data": {"name": "@everyone <@&1>"}}).encode(), "name"),
        ("types.json", json.dumps({"spec": "chara_card_v2", "data": {"name": "T", "tags": "x"}}).encode(),
         "`tags` should be a list"),
    ],
)  # fmt: skip
async def test_hostile_card_files_are_refused_and_change_nothing(
    fake: FakeDiscord, world: World, tw: BotHandle, filename: str, data: bytes, expected: str
) -> None:
    before = await stored(tw)
    message = await upload(tw, world, filename, data)
    assert expected in message.content, message.content
    assert "incident" not in message.content
    assert await stored(tw) == before
    assert not no_pings(fake.messages(world.channel))


async def test_a_name_discord_would_refuse_can_be_replaced(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    card = json.dumps({"spec": "chara_card_v2", "data": {"name": "Clyde: Discord Mod", "description": "A bouncer."}})
    refused = await upload(tw, world, "clyde.json", card.encode())
    assert "`name`" in refused.content, refused.content
    message = await upload(tw, world, "clyde.json", card.encode(), name="Bouncer")
    assert "Bouncer" in message.content and "imported" in message.content
    names, _ = await stored(tw)
    assert "Bouncer" in names and not any("Clyde" in n for n in names)
    assert not no_pings(fake.messages(world.channel))


async def test_direction_controls_and_invisible_characters_leave_a_cards_name(world: World, tw: BotHandle) -> None:
    card = {
        "spec": "chara_card_v2",
        "data": {"name": "\u202eSable\u202c the\u200b \u2066Quiet\u2069", "description": "x"},
    }
    message = await upload(tw, world, "sable.json", json.dumps(card).encode())
    assert "imported" in message.content, message.content
    names, _ = await stored(tw)
    assert "Sable the Quiet" in names
