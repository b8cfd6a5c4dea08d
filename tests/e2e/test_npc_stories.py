"""NPCs and players' characters inside story rounds (issue 10), end to end: the real bot (discord.py)
against the loopback Discord, the real engine and tiny model, a real SQLite file. One bot for the module.

What the model writes is random: the tests assert on who speaks where and when, under which name and
avatar, what was stored (and how often), what the narrator was asked, and what never happens (pings).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.text import echo
from fakediscord import Channel, FakeDiscord, Message
from fakediscord.permissions import MANAGE_GUILD, MANAGE_MESSAGES
from storage import stories as story_repo
from storage import turns as turn_repo
from storage.turns import Turn
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.e2e.test_npcs import create, npc_messages, wait_npc_lines
from tests.e2e.test_stories import add, start_story, wait_narrations, wait_turn_ping
from tests.support.engine_proc import EngineProcess
from tests.support.engine_proxy import EngineProxy
from tests.support.pace import Pace

ALICE_AVATAR = "a1b2c3d4e5f6"


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture(scope="module")
def world(fake: FakeDiscord) -> World:
    mod = fake.add_user("mod")
    guild = fake.add_guild("Story Guild", owner=mod)
    keepers = fake.add_role(guild, "Keepers", permissions=MANAGE_GUILD)
    alice, bob, cara = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("cara")
    alice.avatar = ALICE_AVATAR
    for user in (alice, bob, cara):
        fake.add_member(guild, user)
    return World(
        guild, fake.add_channel(guild, "hall"), fake.add_channel(guild, "yard"), mod, alice, bob, cara, keepers
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
        fake, proxy.url, Path(tmp_path_factory.mktemp("npc-stories")) / "taleweaver.db", world.guild,
        pace.engine_timeout, proxy=proxy, settings_extra={"npc_message_content": True, "npc_line_tokens": 24},
    )  # fmt: skip
    await handle.start()
    yield handle
    await handle.stop()


@pytest.fixture(autouse=True)
def hang_guard(request: pytest.FixtureRequest, pace: Pace) -> None:
    request.node.add_marker(pytest.mark.timeout(pace.hang_guard, func_only=True), append=False)


async def story_turns(tw: BotHandle, channel: Channel) -> list[Turn]:
    assert tw.bot is not None
    async with tw.bot.db.read() as conn:
        story = await story_repo.latest_in_channel(conn, channel.id)
        assert story is not None
        return await turn_repo.all_of(conn, story.id)


def said_as(fake: FakeDiscord, channel: Channel, name: str, text: str) -> Message | None:
    return next((m for m in npc_messages(fake, channel) if m.username == name and m.content == text), None)


async def test_an_addressed_npc_answers_before_the_narrator_and_the_narrator_knows(
    fake: FakeDiscord, world: World, tw: BotHandle
) -> None:
    chan = fake.add_channel(world.guild, "campfire")
    await create(tw, world, "Mira")
    ix = await fake.invoke(world.alice, chan, "scene add", npc="Mira")
    await ix.wait_acknowledged()
    await start_story(fake, chan, world.alice, [])  # one player: her turn ends the round
    await wait_narrations(tw, chan, 1)

    for attempt in range(1, 4):  # the tiny model may answer only for others (cleaned away): "says nothing"
        await add(fake, world.alice, chan, f"Mira, what lies beyond the marsh? (asked {attempt} times)")
        line = (await wait_npc_lines(tw, chan, attempt))[-1]
        assert line.username == "Mira", "the addressed NPC answers through the webhook, under its name"
        narration = await wait_narrations(tw, chan, attempt + 1)
        assert narration.id > line.id, "the NPC answers before the narrator continues"
        if line.content != "*Mira says nothing.*":
            break
        await wait_turn_ping(tw, chan, world.alice, after=narration.id)
    turns = await story_turns(tw, chan)
    assert [t.kind for t in turns][-3:] == ["player", "npc", "narrator"]
    npc_turn = turns[-2]
    assert npc_turn.speaker == "Mira" and npc_turn.author_id is None and npc_turn.round == turns[-3].round
    assert line.content == echo(npc_turn.text), "the line stored is the line shown"
    assert tw.proxy is not None
    asked = [
        b["messages"][-1]["content"]
        for b in tw.proxy.bodies
        if b.get("messages") and "This round, the players wrote" in b["messages"][-1]["content"]
    ]
    assert asked, "the narrator was asked to continue the round"
    assert f"Mira: {npc_turn.text}" in asked[-1], "the narrator's prompt has the NPC's line as dialogue"
    assert "- Mira: " in asked[-1], "and the round's reminder names it"
    assert not no_pings(fake.messages(chan))


async def test_turns_are_reposted_under_the_characters_names(fake: FakeDiscord, world: World, tw: BotHandle) -> None:
    chan = fake.add_channel(world.guild, "stage")
    await start_story(fake, chan, world.alice, [world.bob], as_characters=True)
    await wait_narrations(tw, chan, 1)

    # /story add: the player is answered privately; the turn appears under the character's name and avatar.
    ix = await add(fake, world.alice, chan, "I raise the lantern high.")
    assert ix.ephemeral
    mine = await tw.wait(lambda: said_as(fake, chan, "alice", "I raise the lantern high."), what="alice's turn")
    assert mine.avatar_url is not None and str(world.alice.id) in mine.avatar_url and ALICE_AVATAR in mine.avatar_url

    # A plain message is the turn, Tupperbox-style: re-posted under the character, the original deleted.
    original = await fake.post_message(world.bob, chan, "I follow, humming.")
    await tw.wait(lambda: said_as(fake, chan, "bob", "I follow, humming."), what="bob's turn re-posted")
    await fake.wait_for(lambda: fake.message_by_id[original.id].deleted, 60, what="the original deleted")
    await wait_turn_ping(tw, chan, world.alice, after=original.id)  # the round was complete and narrated

    # Without Manage Messages the original stays, and nothing else changes.
    fake.set_overwrite(chan, fake.bot_role(world.guild), deny=MANAGE_MESSAGES)
    aside = await fake.post_message(world.bob, chan, "(brb, tea)")  # table talk, and not bob's turn anyway
    kept = await fake.post_message(world.alice, chan, "I knock twice.")
    await tw.wait(lambda: said_as(fake, chan, "alice", "I knock twice."), what="alice's second turn re-posted")
    assert not fake.message_by_id[aside.id].deleted and not said_as(fake, chan, "bob", "(brb, tea)")

    turns = await story_turns(tw, chan)
    texts = [t.text for t in turns if t.kind == "player"]
    assert texts == ["I raise the lantern high.", "I follow, humming.", "I knock twice."], "each stored once"
    assert not fake.message_by_id[kept.id].deleted
    echoed = [m for m in fake.messages(chan) if m.webhook_id is None and m.author.bot and "lantern high" in m.content]
    assert not echoed, "the turn is not echoed a second time by the bot"
    assert not no_pings(fake.messages(chan))
