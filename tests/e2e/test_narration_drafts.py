"""Best-of-N narration end to end (NARRATION_DRAFTS): one batched request for several takes, the best-scored
posted as the story's narration, no vote. Through the loopback Discord, the real bot, engine and model."""

from __future__ import annotations

from bot.craft.narration import TakeContext, score_take
from fakediscord import FakeDiscord
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.e2e.test_stories import narrations, start_story, wait_narrations


async def test_an_opening_drafted_three_times_posts_one_best_take(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    assert taleweaver.proxy is not None
    taleweaver.narration_drafts = 3
    bot = await taleweaver.restart()
    await start_story(fake, world.channel, world.alice, [world.bob])
    opening = await wait_narrations(taleweaver, world.channel, 1)

    asked = [b for b in taleweaver.proxy.bodies if b.get("n") == 3]
    assert asked, "the takes were asked for in one batched request"
    assert asked[0]["presence_penalty"] == bot.settings.narration_presence_penalty
    story = await bot.stories.view(world.channel.id)
    turns = [t for t in (await bot.stories.transcript(world.channel.id))[2] if t.kind == "narrator"]
    assert len(turns) == 1 and turns[0].text and turns[0].text in opening.content.replace("\u200b", "")
    assert not any("🗳️" in m.content for m in fake.messages(world.channel)), "no vote without choices"
    assert len(narrations(fake, world.channel)) == 1
    score = score_take(turns[0].text, TakeContext(names=("alice", "bob")))
    assert not score.speaks_for_player, "the posted take gives no player a line"
    assert story is not None and not no_pings(fake.messages(world.channel))
