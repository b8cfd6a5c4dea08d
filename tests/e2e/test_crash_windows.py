"""The bot stopped at the worst moment, then restarted on the same database file through the loopback Discord.

A vote posted but not yet stored, a narration and a poem cut off mid-stream: after the restart the
channel must never show live buttons that answer "this vote is closed", nor claim work that will not
finish ("still writing…").
"""

from __future__ import annotations

import asyncio

from bot.moderation import Actor
from bot.stories.rules import StoryOptions
from bot.streaming import DRAFTING, WRITING
from fakediscord import Channel, FakeDiscord, Message, User
from storage.stories import Story
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_stories import NARRATOR, add, answer, start_story
from tests.support.engine_proxy import EngineProxy


def vote_messages(fake: FakeDiscord, channel: Channel) -> list[Message]:
    return [m for m in fake.messages(channel) if any(c.startswith("story:vote:") for c in m.custom_ids)]


def is_closed(message: Message) -> bool:
    buttons = [c for row in message.components for c in row.get("components", [])]
    closes = any(f.get("name") == "Closes" for e in message.embeds for f in e.get("fields", []))
    return bool(buttons) and all(b.get("disabled") for b in buttons) and not closes and "<t:" not in message.text


async def test_a_vote_posted_just_before_a_kill_closes_its_message_after_the_restart(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    """The narrator's two versions are set here rather than written by the engine: the window under test
    is in the runner, after the narration (votes from the real narrator: test_three_player_round_robin_game),
    and a busy machine's slow narration only made this test wait."""
    chan, alice = world.channel, world.alice
    assert taleweaver.bot is not None
    killed = asyncio.Event()

    async def killed_before_storing(vote_id: int, message_id: int) -> None:
        killed.set()
        await asyncio.Event().wait()  # the bot "dies" here: the message is posted, its id never stored

    service = taleweaver.bot.stories
    service.set_vote_message = killed_before_storing  # type: ignore[method-assign]
    story = await opened(taleweaver, world)
    await add(fake, alice, chan, "I open the old book.")  # through Discord: the story now waits for the narrator
    runner = taleweaver.bot.get_cog("Stories").runner  # type: ignore[union-attr]
    runner.cancel(story.id)  # the engine's narration makes way for the set versions
    outcome = await service.complete_narration(await service.plan_narration(story.id), ["Wolves.", "Rain."])
    posting = asyncio.create_task(runner.apply(outcome))  # what the narration task does next: post the vote
    await fake.wait_for(killed.is_set, timeout=30, channel=chan, what="the vote posted, its id not stored")
    [posted] = vote_messages(fake, chan)
    posting.cancel()

    await taleweaver.restart()

    assert vote_messages(fake, chan) == [posted], "the posted vote is found by its buttons, not posted again"
    assert "You voted" in await answer(await fake.click(alice, posted, label="Option 2"))
    await fake.wait_for(lambda: _result(fake, chan), timeout=30, what="the vote result")
    closed = fake.message_by_id[posted.id]
    assert is_closed(closed), f"the vote message still looks open: {closed.components} {closed.text}"


async def test_a_vote_stored_but_never_posted_is_posted_after_the_restart(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    """The other side of the window: the vote is stored, the bot dies before its message is posted.

    The state is made through the real service with set texts (no engine), exactly as a narration
    that finished just before the crash leaves it.
    """
    chan, alice = world.channel, world.alice
    story = await opened(taleweaver, world, world.bob)
    service = taleweaver.bot.stories
    await service.add_turn(chan.id, alice.id, "I lift the lantern.")
    voting = await service.complete_narration(await service.plan_narration(story.id), ["Wolves.", "Rain."])
    assert voting.vote is not None and not vote_messages(fake, chan)

    await taleweaver.restart()

    [posted] = vote_messages(fake, chan)
    assert posted.custom_ids == [f"story:vote:{voting.vote.id}:0", f"story:vote:{voting.vote.id}:1"]
    assert "Wolves." in posted.text and "Rain." in posted.text and not is_closed(posted)
    for user in (alice, world.bob):
        assert "You voted" in await answer(await fake.click(user, posted, label="Option 2"))
    await fake.wait_for(lambda: _result(fake, chan), timeout=30, what="the vote result")
    assert is_closed(fake.message_by_id[posted.id])


async def test_a_vote_cut_short_by_the_end_of_the_story_closes_its_message(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    """Not a crash, the same symptom: /story end (or retry) closed the vote but left its buttons live."""
    chan, alice = world.channel, world.alice
    story = await opened(taleweaver, world, world.bob)
    assert taleweaver.bot is not None
    await taleweaver.bot.stories.add_turn(chan.id, alice.id, "I lift the lantern.")
    await taleweaver.bot.stories.complete_narration(await taleweaver.bot.stories.plan_narration(story.id), ["A", "B"])
    await taleweaver.restart()  # the restored vote is posted (see above)
    [vote] = vote_messages(fake, chan)

    assert "ended the story" in await answer(await fake.invoke(alice, chan, "story end"))
    await fake.wait_for(lambda: any(m.content.startswith("🏁 **The End**") for m in fake.messages(chan)), timeout=30)
    assert is_closed(fake.message_by_id[vote.id])


async def opened(taleweaver: BotHandle, world: World, *others: User) -> Story:
    """alice's free-mode story with group choice, past its opening, made through the real service
    (with a set opening: the engine's time goes to what the test is about)."""
    assert taleweaver.bot is not None
    service, alice = taleweaver.bot.stories, world.alice
    options = StoryOptions("The Lantern Road", "fantasy", "A lantern.", mode="free", narrate_every=1, choices=2)
    story = await service.create(world.guild.id, world.channel.id, alice.id, "alice", options)
    for user in others:
        await service.join(story.id, user.id, user.name)
    await service.begin(story.id, Actor.of(alice.id, world.guild.id, False, ()))
    return (await service.complete_narration(await service.plan_narration(story.id), ["The road is dark."])).story


def _result(fake: FakeDiscord, channel: Channel) -> Message | None:
    return next((m for m in fake.messages(channel) if m.content.startswith("🗳️ Option 2 wins")), None)


INTERRUPTED = "⚠️ *Interrupted: the bot restarted before"


async def test_a_narration_and_a_poem_cut_off_by_a_restart_say_so(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, proxy: EngineProxy
) -> None:
    chan, alice = world.channel, world.alice
    proxy.mode, proxy.cut_after = "hang", 6  # every generation writes a little, then hangs
    await start_story(fake, chan, alice, [])
    poem_ix = await fake.invoke(alice, world.other_channel, "poem", topic="the sea", form="sonnet")
    await poem_ix.wait_acknowledged(timeout=3)

    def writing(channel: Channel, status: str = WRITING) -> Message | None:
        return next((m for m in fake.messages(channel) if m.author.bot and status in m.content), None)

    narration = await fake.wait_for(lambda: writing(chan), timeout=120, what="the narration streaming")
    # A sonnet is drafted several times at once (best of N): its message shows the drafting progress.
    poem = await fake.wait_for(lambda: writing(world.other_channel, DRAFTING), timeout=120, what="the poem drafting")
    assert narration.content.startswith(NARRATOR) and poem.content.startswith("**Sonnet**")
    proxy.mode = "pass"

    await taleweaver.restart()

    cut_narration, cut_poem = fake.message_by_id[narration.id], fake.message_by_id[poem.id]
    for message in (cut_narration, cut_poem):
        assert WRITING not in message.content and INTERRUPTED in message.content, message.content
        assert DRAFTING not in message.content
    assert cut_narration.content.startswith(NARRATOR) and "Nothing was saved" in cut_narration.content
    assert not cut_narration.custom_ids, "a narration cut off by a restart keeps no Cancel button"
    assert cut_poem.content.startswith("**Sonnet** · *the sea*")
    assert [c.split(":")[1] for c in cut_poem.custom_ids] == ["regen", "another"], "the poem can be written again"
