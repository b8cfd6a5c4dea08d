"""NPCs end to end: the real bot (discord.py) against the loopback Discord, the real engine and tiny model,
a real SQLite file. One bot for the module; each test works in its own channel.

What the model writes is random; the tests assert on who speaks where, under which name and avatar, what
the requests carried (allowed_mentions, thread_id), what was stored and what never happens (pings, loops).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.npcs.model import Npc
from fakediscord import Attachment, Channel, FakeDiscord, FakeInteraction, Message
from fakediscord.permissions import MANAGE_GUILD, MANAGE_WEBHOOKS
from storage import npc_memory
from storage import npcs as npc_repo
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.e2e.test_stories import answer
from tests.support.engine_proc import EngineProcess
from tests.support.engine_proxy import EngineProxy
from tests.support.pace import Pace

AVATAR = "https://cdn.example.com/mira.png"
PERSONA = "Mira is an old seer of the salt marsh who answers in short riddles."


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture(scope="module")
def world(fake: FakeDiscord) -> World:
    mod = fake.add_user("mod")
    guild = fake.add_guild("NPC Guild", owner=mod)
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
        fake, proxy.url, Path(tmp_path_factory.mktemp("npcs")) / "taleweaver.db", world.guild, pace.engine_timeout,
        proxy=proxy, settings_extra={"npc_message_content": True, "npc_line_tokens": 24},
    )  # fmt: skip
    await handle.start()
    yield handle
    await handle.stop()


@pytest.fixture(autouse=True)
def hang_guard(request: pytest.FixtureRequest, pace: Pace) -> None:
    request.node.add_marker(pytest.mark.timeout(pace.hang_guard, func_only=True), append=False)


async def create(tw: BotHandle, world: World, name: str, persona: str = PERSONA, **options: object) -> FakeInteraction:
    ix = await tw.fake.invoke(world.alice, world.channel, "npc create", name=name, **options)
    await ix.wait_acknowledged()
    assert ix.modal is not None, ix.response_data
    done = await tw.fake.submit_modal(world.alice, ix, {"npc:description": persona, "npc:first_mes": ""})
    await done.wait_acknowledged()
    return done


async def npc_named(tw: BotHandle, name: str) -> Npc | None:
    assert tw.bot is not None
    async with tw.bot.db.read() as conn:
        return await npc_repo.by_name(conn, tw.guild.id, name)


def npc_messages(fake: FakeDiscord, channel: Channel) -> list[Message]:
    """Messages posted through a channel webhook (interaction responses carry the application's id)."""
    return [m for m in fake.messages(channel) if m.webhook_id is not None and m.webhook_id in fake.webhooks]


async def wait_npc_lines(tw: BotHandle, channel: Channel, count: int) -> list[Message]:
    def enough() -> list[Message] | None:
        lines = npc_messages(tw.fake, channel)
        return lines if len(lines) >= count else None

    return await tw.wait(enough, what=f"{count} NPC line(s)", channel=channel)


async def test_create_edit_delete(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    done = await create(tw, world, "Mira", avatar_url=AVATAR, tags="seer, marsh")
    assert done.ephemeral and "Mira" in (done.response_data or {}).get("content", "")
    mira = await npc_named(tw, "mira")
    assert mira is not None and mira.description == PERSONA and mira.avatar_url == AVATAR
    assert mira.tags == ("seer", "marsh") and mira.creator_id == world.alice.id

    choices = await fake.autocomplete(world.bob, world.channel, "npc show", focused="npc", npc="mi")
    assert [c["value"] for c in choices] == ["Mira"]

    refused = await fake.invoke(world.bob, world.channel, "npc edit", npc="Mira")
    await refused.wait_acknowledged()
    assert refused.modal is None and "creator or a moderator" in refused.response_data["content"]  # type: ignore[index]

    edit = await fake.invoke(world.alice, world.channel, "npc edit", npc="Mira", new_name="Old Mira")
    await edit.wait_acknowledged()
    assert edit.modal is not None
    saved = await fake.submit_modal(world.alice, edit, {"npc:description": PERSONA, "npc:scenario": "Dusk."})
    await saved.wait_acknowledged()
    old = await npc_named(tw, "Old Mira")
    assert old is not None and old.id == mira.id and old.scenario == "Dusk." and old.avatar_url == AVATAR

    pin = await fake.invoke(world.alice, world.channel, "scene pin", npc="Old Mira", fact="Alice owes a coin")
    await pin.wait_acknowledged()
    assert tw.bot is not None
    async with tw.bot.db.read() as conn:
        assert await npc_memory.pins(conn, old.id, world.channel.id) == ["Alice owes a coin"]

    delete = await fake.invoke(world.mod, world.channel, "npc delete", npc="Old Mira")  # a moderator may
    await delete.wait_acknowledged()
    assert await npc_named(tw, "Old Mira") is not None, "nothing is deleted before the confirmation"
    message = await delete.wait_original()
    confirm = await fake.click(world.mod, message, custom_id="npc:delete:yes")
    await confirm.wait_acknowledged()
    assert await npc_named(tw, "Old Mira") is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Discord Helper", "discord"),
        ("clyde", "clyde"),
        ("<@123> Mira", "mention"),
        ("@everyone", "`@`"),
        ("\u200b\u202e\u200b", "empty"),
        ("x" * 81, "at most 80"),
    ],
)
async def test_hostile_names_are_refused(
    fake: FakeDiscord, world: World, tw: BotHandle, name: str, reason: str
) -> None:
    ix = await fake.invoke(world.alice, world.channel, "npc create", name=name)
    await ix.wait_acknowledged()
    assert ix.modal is None and ix.ephemeral
    assert reason in ix.response_data["content"].lower()  # type: ignore[index]
    assert tw.bot is not None
    assert all(n.name != name for n in await tw.bot.npcs.for_guild(world.guild.id)), "nothing was stored"


async def test_say_speaks_through_one_reused_webhook(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    chan = fake.add_channel(world.guild, "marsh")
    await create(tw, world, "Wren", avatar_url=AVATAR)
    for text in ("Wren, @everyone what do you see?", "And now?"):
        ix = await fake.invoke(world.alice, chan, "npc say", npc="Wren", text=text)
        await ix.wait_acknowledged()
    lines = await wait_npc_lines(tw, chan, 2)
    assert {m.username for m in lines} == {"Wren"} and {m.avatar_url for m in lines} == {AVATAR}
    assert len({m.webhook_id for m in lines}) == 1, "one webhook per channel, reused"
    sends = fake.requests_matching("POST", "/webhooks/{id}/{token}")
    assert sends and all(r.json["allowed_mentions"] == {"parse": []} for r in sends)
    assert all(r.json["username"] == "Wren" and r.json["avatar_url"] == AVATAR for r in sends)
    assert len([w for w in fake.webhooks.values() if w.channel_id == chan.id]) == 1
    assert not no_pings(fake.messages(chan))


async def test_thread_uses_the_parent_webhook(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    chan = fake.add_channel(world.guild, "docks")
    thread = fake.add_thread(chan, "a quiet word")
    await create(tw, world, "Tam")
    ix = await fake.invoke(world.alice, thread, "npc say", npc="Tam", text="Tam, are we alone?")
    await ix.wait_acknowledged()
    [line] = await wait_npc_lines(tw, thread, 1)
    assert fake.webhooks[line.webhook_id].channel_id == chan.id, "the parent's webhook"  # type: ignore[index]
    sends = fake.requests_matching("POST", "/webhooks/{id}/{token}")
    assert any(r.query.get("thread_id") == str(thread.id) for r in sends)
    assert npc_messages(fake, chan) == [], "the line went into the thread, not the parent"

    forum = fake.add_channel(world.guild, "quests", forum=True)
    post = fake.add_thread(forum, "the lost bell")
    ix = await fake.invoke(world.alice, post, "npc say", npc="Tam", text="Tam, where is the bell?")
    await ix.wait_acknowledged()
    [forum_line] = await wait_npc_lines(tw, post, 1)
    assert fake.webhooks[forum_line.webhook_id].channel_id == forum.id, "a forum post uses the forum's webhook"  # type: ignore[index]


async def test_reply_and_name_addressing_in_a_two_npc_scene(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    chan = fake.add_channel(world.guild, "crossroads")
    await create(tw, world, "Ash")
    await create(tw, world, "Bram")
    for name in ("Ash", "Bram"):
        ix = await fake.invoke(world.bob, chan, "scene add", npc=name)
        await ix.wait_acknowledged()
    await fake.post_message(world.bob, chan, "Bram, which road leads home?")
    [first] = await wait_npc_lines(tw, chan, 1)
    assert first.username == "Bram", "the addressed NPC answers, not the other one"

    await fake.post_message(world.cara, chan, "Tell me more.", reply_to=first)
    lines = await wait_npc_lines(tw, chan, 2)
    assert lines[1].username == "Bram", "a reply to an NPC's message reaches that NPC"

    act = await fake.invoke(world.bob, chan, "scene act", turns=2)
    await act.wait_acknowledged()
    lines = await wait_npc_lines(tw, chan, 4)
    assert [m.username for m in lines[2:4]] == ["Ash", "Bram"], "the NPCs present take turns"
    await act.wait_original()

    other_bot = fake.add_user("echo-bot", bot=True)
    fake.add_member(world.guild, other_bot)
    await fake.post_message(other_bot, chan, "Ash, answer me, bot to bot!")
    await fake.post_message(world.cara, chan, "just chatting, no one in particular")
    before = len(npc_messages(fake, chan))
    await fake.post_message(world.cara, chan, "Ash, a last word?")
    await wait_npc_lines(tw, chan, before + 1)
    assert len(npc_messages(fake, chan)) == before + 1, "an unaddressed message gets no answer; NPCs never answer NPCs"
    assert tw.bot is not None
    ash = await npc_named(tw, "Ash")
    assert ash is not None
    async with tw.bot.db.read() as conn:
        heard = [line.text for line in await npc_memory.recent(conn, ash.id, chan.id, limit=50)]
    assert "just chatting, no one in particular" in heard, "what is said in the scene is remembered"
    assert not any("bot to bot" in text for text in heard), "bots are neither answered nor heard"


async def test_deleted_webhook_is_recreated(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    chan = fake.add_channel(world.guild, "ruins")
    await create(tw, world, "Odo")
    ix = await fake.invoke(world.alice, chan, "npc say", npc="Odo", text="Odo?")
    await ix.wait_acknowledged()
    [first] = await wait_npc_lines(tw, chan, 1)
    fake.webhooks[first.webhook_id].deleted = True  # type: ignore[index]  # a moderator deleted it
    ix = await fake.invoke(world.alice, chan, "npc say", npc="Odo", text="Still there?")
    await ix.wait_acknowledged()
    lines = await wait_npc_lines(tw, chan, 2)
    assert lines[1].webhook_id != first.webhook_id and lines[1].username == "Odo"
    live = [w for w in fake.webhooks.values() if w.channel_id == chan.id and not w.deleted]
    assert len(live) == 1


async def test_without_manage_webhooks_the_bot_speaks_and_tells_once(
    fake: FakeDiscord, world: World, tw: BotHandle
) -> None:
    chan = fake.add_channel(world.guild, "locked")
    fake.set_overwrite(chan, fake.bot_role(world.guild), deny=MANAGE_WEBHOOKS)
    await create(tw, world, "Pim")
    for text in ("Pim, hello?", "Pim, again?"):
        ix = await fake.invoke(world.alice, chan, "npc say", npc="Pim", text=text)
        await ix.wait_acknowledged()

    def answers() -> list[Message] | None:
        found = [m for m in fake.messages(chan) if m.author.id == fake.bot.id and m.content.startswith("**Pim**: ")]
        return found if len(found) >= 2 else None

    await tw.wait(answers, what="two fallback lines", channel=chan)
    notices = [m for m in fake.messages(chan) if "Manage Webhooks" in m.content]
    assert len(notices) == 1, "moderators are told once"
    assert npc_messages(fake, chan) == []
    assert not no_pings(fake.messages(chan))


async def test_avatar_from_an_uploaded_image_only(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    url = f"{fake.base_url}/attachments/0/990001/lark.png"
    png = Attachment(990001, "lark.png", b"\x89PNG\r\n\x1a\n" + bytes(32), "image/png", url=url)
    await create(tw, world, "Lark", avatar=png, avatar_url="https://ignored.example/x.png")
    lark = await npc_named(tw, "Lark")
    assert lark is not None and lark.avatar_url == url, "an uploaded image wins over a link"

    text = await fake.invoke(world.alice, world.channel, "npc create", name="Wisp", avatar=("notes.txt", b"hello"))
    await text.wait_acknowledged()
    assert text.modal is None and "must be an image" in text.response_data["content"]  # type: ignore[index]
    bad_link = await fake.invoke(world.alice, world.channel, "npc create", name="Wisp", avatar_url="javascript:x")
    await bad_link.wait_acknowledged()
    assert bad_link.modal is None and "https://" in bad_link.response_data["content"]  # type: ignore[index]
    assert await npc_named(tw, "Wisp") is None


async def test_without_the_content_setting_plain_messages_are_not_read(
    fake: FakeDiscord, world: World, tw: BotHandle, caplog: pytest.LogCaptureFixture
) -> None:
    assert tw.bot is not None
    chan = fake.add_channel(world.guild, "quiet")
    await create(tw, world, "Sol")
    ix = await fake.invoke(world.alice, chan, "scene add", npc="Sol")
    await ix.wait_acknowledged()
    enabled = tw.bot.settings
    tw.bot.settings = dataclasses.replace(enabled, npc_message_content=False)
    try:
        await fake.post_message(world.alice, chan, "Sol, can you hear this?")
        ix = await fake.invoke(world.alice, chan, "npc say", npc="Sol", text="And this?")
        await ix.wait_acknowledged()
        await wait_npc_lines(tw, chan, 1)
    finally:
        tw.bot.settings = enabled
    sol = await npc_named(tw, "Sol")
    assert sol is not None
    async with tw.bot.db.read() as conn:
        heard = [line.text for line in await npc_memory.recent(conn, sol.id, chan.id, limit=10)]
    assert "And this?" in heard and "Sol, can you hear this?" not in heard
    assert len(npc_messages(fake, chan)) == 1, "only /npc say was answered"

    # NPCs turned off in this channel (issue 10): /npc say, /scene act and /scene add are refused
    # privately, and a plain "Sol, …" is not heard. Blocked words keep a line from an NPC the same way.
    await answer(await fake.invoke(world.mod, chan, "config set", key="npcs_enabled", value="off", channel=chan))
    for command, options in (("npc say", {"npc": "Sol", "text": "Are you there?"}), ("scene act", {}),
                             ("scene add", {"npc": "Sol"})):  # fmt: skip
        refused = await fake.invoke(world.alice, chan, command, **options)
        shown = await answer(refused)
        assert refused.ephemeral and "NPCs are turned off in this channel" in shown, (command, shown)
    caplog.set_level(logging.INFO, logger="cogs.npcs.admission")
    said = await fake.post_message(world.alice, chan, "Sol, is the switch off?")
    await fake.wait_for(lambda: f"message {said.id} not taken" in caplog.text, 60, what="the message turned away")
    await answer(await fake.invoke(world.mod, chan, "config set", key="npcs_enabled", value="on", channel=chan))
    await answer(await fake.invoke(world.mod, chan, "config set", key="blocked_words", value="grue"))
    try:
        refused = await fake.invoke(world.alice, chan, "npc say", npc="Sol", text="Is the G\u200brue near?")
        shown = await answer(refused)
        assert refused.ephemeral and "blocked" in shown, shown
        said = await fake.post_message(world.alice, chan, "Sol, is the grue near?")
        await fake.wait_for(lambda: f"message {said.id} not taken" in caplog.text, 60, what="the message turned away")
        ix = await fake.invoke(world.alice, chan, "npc say", npc="Sol", text="Back again?")
        await ix.wait_acknowledged()
        await wait_npc_lines(tw, chan, 2)
    finally:
        await answer(await fake.invoke(world.mod, chan, "config reset", key="blocked_words"))
    async with tw.bot.db.read() as conn:
        lines = await npc_memory.recent(conn, sol.id, chan.id, limit=20)
    heard = [line.text for line in lines if line.speaker_kind == "player"]
    assert heard[-1] == "Back again?" and not [t for t in heard if "switch" in t or "rue" in t or "there?" in t], heard
    assert len(npc_messages(fake, chan)) == 2, "nothing refused was answered"
