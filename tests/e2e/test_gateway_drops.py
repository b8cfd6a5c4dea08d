"""The gateway connection drops (issue 14): with a close code that allows resuming, and with an invalid
session that does not. The real bot reconnects to the loopback Discord, answers interactions that come
afterwards, and an open story keeps its turn timer (one timer: it fires once, not once per connection).

The story's opening is set through the real service (no engine): what is under test is the connection.
"""

from __future__ import annotations

import time

from bot.moderation import Actor
from bot.story_rules import StoryOptions
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_stories import answer
from tests.fakediscord import FakeDiscord

TIMEOUT_S = 20


async def test_the_bot_resumes_or_reidentifies_answers_afterwards_and_keeps_its_timers(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    chan, alice, bob = world.channel, world.alice, world.bob
    assert taleweaver.bot is not None
    taleweaver.bot.before_identify_hook = _no_wait  # type: ignore[method-assign]  # discord.py sleeps 5 s
    service, runner = taleweaver.bot.stories, taleweaver.bot.get_cog("Stories").runner  # type: ignore[union-attr]
    options = StoryOptions("Drops", "fable", "A bell rings.", turn_timeout=TIMEOUT_S)
    story = await service.create(world.guild.id, chan.id, alice.id, "alice", options)
    await service.join(story.id, bob.id, "bob")
    await service.begin(story.id, Actor.of(alice.id, world.guild.id, False, ()))
    opened = await service.complete_narration(await service.plan_narration(story.id), ["The bell rings twice."])
    runner.cancel(story.id)  # the narration the begin asked for makes way for the set opening
    await runner.apply(opened)  # alice's turn, with its timer
    deadline = opened.story.deadline
    assert deadline is not None and deadline > time.time()
    readies = len(fake.dispatches_of("READY"))

    await fake.drop_gateway(resume=True)
    assert "resume" in fake.gateway.connections[-1].path, "the client resumed its session"
    assert len(fake.dispatches_of("READY")) == readies, "a resume is not a new session"
    assert "Drops" in await answer(await fake.invoke(bob, chan, "story status"))

    await fake.drop_gateway(resume=False)
    assert len(fake.dispatches_of("READY")) == readies + 1, "a new session was identified"
    assert "Drops" in await answer(await fake.invoke(bob, chan, "story status"))

    stored = await service.open_stories()
    assert [s.deadline for s in stored] == [deadline], "the deadline is unchanged"
    skip = "Time ran out for **alice**"
    await fake.wait_for(lambda: any(skip in m.content for m in fake.messages(chan)), timeout=TIMEOUT_S + 60)
    assert sum(skip in m.content for m in fake.messages(chan)) == 1, "one timer, however many connections"


async def _no_wait(shard_id: int | None, *, initial: bool = False) -> None:
    return None
