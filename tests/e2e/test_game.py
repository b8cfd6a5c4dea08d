"""One three-player round-robin game end to end, told in stages so that a failure names the stage.

The stages share one bot, one fake Discord and one story (module-scoped), and run in order: lobby,
turns, the first vote, a retried vote settled by its deadline, the ending. A stage whose predecessor
failed is skipped with the name of the stage that failed, never run against a broken story.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from fakediscord import FakeDiscord, Message
from tests.e2e.conftest import BotHandle, World, make_world, no_pings
from tests.e2e.test_stories import (
    _open_vote,
    _result,
    add,
    answer,
    assert_narrator_never_speaks_for_players,
    last_id,
    start_story,
    wait_narrations,
    wait_turn_ping,
)
from tests.support.engine_proc import EngineProcess
from tests.support.engine_proxy import EngineProxy
from tests.support.pace import Pace


@dataclass
class Game:
    fake: FakeDiscord
    world: World
    bot: BotHandle
    failed: str = ""  # the first stage that failed; later stages do not run
    seen: dict[str, Message] = field(default_factory=dict)  # messages a later stage starts from


@pytest.fixture(scope="module")
async def game(engine: EngineProcess, pace: Pace, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Game]:
    async with FakeDiscord() as fake:
        world = make_world(fake)
        proxy = await EngineProxy(engine.url).start()
        db_path = tmp_path_factory.mktemp("game") / "taleweaver.db"
        handle = BotHandle(fake, proxy.url, db_path, world.guild, pace.engine_timeout, proxy=proxy)
        await handle.start()
        try:
            yield Game(fake, world, handle)
        finally:
            await handle.stop()
            await proxy.stop()


@pytest.fixture(autouse=True)
def stage(game: Game, pace: Pace, request: pytest.FixtureRequest) -> Iterator[None]:
    """Each stage gets the machine-scaled hang guard; one that fails stops the stages after it."""
    if game.failed:
        pytest.skip(f"the game broke in an earlier stage: {game.failed}")
    request.node.add_marker(pytest.mark.timeout(pace.hang_guard, func_only=True), append=False)
    failures_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failures_before:
        game.failed = request.node.name


async def test_lobby_then_the_prologue_and_alices_turn(game: Game) -> None:
    fake, w = game.fake, game.world
    lobby = await start_story(fake, w.channel, w.alice, [w.bob, w.cara], turn_timeout="10s", rounds=2, choices=2)
    assert "alice" in fake.message_by_id[lobby.id].text and "cara" in fake.message_by_id[lobby.id].text
    prologue = await wait_narrations(game.bot, w.channel, 1)
    assert "Prologue" in prologue.content
    ping = await wait_turn_ping(game.bot, w.channel, w.alice, after=0)
    assert set(ping.pinged_users) == {w.alice.id}, "only the player whose turn it is is pinged"


async def test_turns_in_order_with_undo_and_a_skip(game: Game) -> None:
    fake, w, chan = game.fake, game.world, game.world.channel
    refused = await add(fake, w.bob, chan, "I grab the lantern first!")
    assert refused.ephemeral and "not your turn" in await answer(refused)
    outsider = await add(fake, w.mod, chan, "I am not even playing.")
    assert outsider.ephemeral and "not in this story" in await answer(outsider)

    mark = last_id(fake, chan)
    first = await add(fake, w.alice, chan, "I lift the lantern.")
    assert not first.ephemeral and "I lift the lantern." in await answer(first)
    undo = await fake.invoke(w.alice, chan, "story undo")
    assert "Removed" in await answer(undo)
    await wait_turn_ping(game.bot, chan, w.alice, after=mark)  # the undone turn is hers to take again

    mark = last_id(fake, chan)
    await add(fake, w.alice, chan, "I lift the lantern high and look down the road.")
    await wait_turn_ping(game.bot, chan, w.bob, after=mark)
    mark = last_id(fake, chan)
    await add(fake, w.bob, chan, "I check the map by its light.")
    await wait_turn_ping(game.bot, chan, w.cara, after=mark)
    # cara lets her 10 seconds run out: skipped with a visible note.
    skip = await game.bot.wait(
        lambda: next((m for m in fake.messages(chan) if "Time ran out for **cara**" in m.content), None), what="skip"
    )
    assert not skip.pinged_users


async def test_the_narrator_offers_two_futures_and_the_players_choose(game: Game) -> None:
    fake, w, chan = game.fake, game.world, game.world.channel
    vote = await game.bot.wait(lambda: _open_vote(fake, chan), what="the first vote")
    assert len(vote.custom_ids) == 2 and all(c.startswith("story:vote:") for c in vote.custom_ids)
    outsider_vote = await fake.click(w.mod, vote, label="Option 1")
    assert "Only the story's players" in await answer(outsider_vote)
    for user, label in ((w.alice, "Option 1"), (w.bob, "Option 2"), (w.cara, "Option 2")):
        ballot = await fake.click(user, vote, label=label)
        assert "You voted" in await answer(ballot)
    result = await game.bot.wait(lambda: _result(fake, chan, 1), what="the vote result")
    assert "Option 2 wins" in result.content
    game.seen["vote"], game.seen["result"] = vote, result


async def test_a_retried_vote_nobody_settles_closes_at_its_deadline(game: Game) -> None:
    """Round 2 begins with alice; bob asks the narrator for a new version instead: a new vote, which
    nobody settles: at the deadline the tie (1 vs 1, cara silent) goes to the earlier option."""
    fake, w, chan = game.fake, game.world, game.world.channel
    await wait_turn_ping(game.bot, chan, w.alice, after=game.seen["result"].id)
    retry = await fake.invoke(w.bob, chan, "story retry")
    assert "tries again" in await answer(retry)
    second_vote = await game.bot.wait(lambda: _open_vote(fake, chan, skip=game.seen["vote"].id), what="second vote")
    await answer(await fake.click(w.alice, second_vote, label="Option 1"))
    await answer(await fake.click(w.bob, second_vote, label="Option 2"))
    tie = await game.bot.wait(lambda: _result(fake, chan, 2), what="the tie result")
    assert "Option 1 wins (a tie goes to the earlier option)" in tie.content
    game.seen["tie"] = tie


async def test_the_last_round_ends_the_story_with_its_export(game: Game) -> None:
    fake, w, chan = game.fake, game.world, game.world.channel
    for user in (w.alice, w.bob, w.cara):
        await wait_turn_ping(game.bot, chan, user, after=game.seen["tie"].id)
        await add(fake, user, chan, f"{user.name} walks on toward the last hill.")
    ending = await game.bot.wait(
        lambda: next((m for m in fake.messages(chan) if m.content.startswith("🏁 **The End**")), None), what="the end"
    )
    export = ending.attachments[0].text
    assert export.startswith("# The Lantern Road")
    chapters = ("## Prologue", "## Chapter 1", "## Chapter 2", "## Credits")
    for part in (*chapters, "alice — 2 turns", "bob — 2 turns", "cara — 1 turn"):
        assert part in export, part
    assert "I lift the lantern.\n" not in export, "the undone turn is gone"
    assert "I check the map by its light." in export

    text_export = await fake.invoke(w.cara, chan, "story export", format="text")
    await text_export.wait_acknowledged()
    exported = (await text_export.wait_original(timeout=15)).attachments[0]
    assert exported.filename.endswith(".txt") and "THE LANTERN ROAD" in exported.text

    assert_narrator_never_speaks_for_players(fake, chan)
    assert not no_pings(fake.messages(chan))
    assert not fake.unknown_routes
