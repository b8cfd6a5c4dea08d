"""Cancel (issue 9): the button under a poem or narration being written stops the engine request for real.

Through the fake Discord, the real bot, the real engine and model, and a real SQLite file. The engine's
own /health `running` count and its `sequences_total{status="aborted"}` counter are the witnesses.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp

from bot.streaming import WRITING
from fakediscord import FakeDiscord, Message
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.support.engine_proc import EngineProcess

# The narration must still be generating when Cancel is pressed, or there is nothing left to abort: on a
# quiet machine the tiny model writes the usual 48 tokens in about a second.
NARRATION_TOKENS = 400
ABORTED = re.compile(r'^taleweaver_engine_sequences_total\{status="aborted"\} (\d+)', re.M)


async def engine_state(url: str) -> tuple[int, int]:
    """(sequences holding a slot now, sequences aborted so far)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/health") as resp:
            running = int((await resp.json())["running"])
        async with session.get(f"{url}/metrics") as resp:
            match = ABORTED.search(await resp.text())
    return running, int(match.group(1)) if match else 0


async def until_engine_idle(url: str) -> int:
    """Wait until no sequence holds a slot (the test's hang guard bounds it); returns the aborted count."""
    while True:
        running, aborted = await engine_state(url)
        if running == 0:
            return aborted
        await asyncio.sleep(0.05)


async def until_engine_busy(url: str) -> None:
    """Wait until a sequence holds a slot (the test's hang guard bounds it)."""
    while (await engine_state(url))[0] == 0:
        await asyncio.sleep(0.02)


def cancel_id(message: Message | None) -> str | None:
    ids = message.custom_ids if message is not None else []
    return next((c for c in ids if c.startswith("cancel:")), None)


async def test_cancel_a_poem_frees_the_engine_slot_and_regenerate_still_works(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, engine: EngineProcess
) -> None:
    aborted_before = await until_engine_idle(engine.url)
    # Free verse streams one draft as it is written (a checked form drafts several at once, shown as progress)
    ix = await fake.invoke(world.alice, world.channel, "poem", topic="a ship that sails forever", form="free verse")
    await ix.wait_acknowledged(timeout=3)

    def streaming() -> Message | None:
        message = ix.original
        return message if message is not None and WRITING in message.content and cancel_id(message) else None

    poem = await taleweaver.wait(streaming, what="the poem streaming with a Cancel button")
    button = cancel_id(poem)
    assert button is not None and button.startswith("cancel:poem:")
    assert (await engine_state(engine.url))[0] >= 1, "the engine is generating the poem"

    stranger = await fake.click(world.bob, poem, custom_id=button)
    await stranger.wait_acknowledged(timeout=3)
    assert stranger.ephemeral and "Only the person who asked" in str(stranger.response_data)

    press = await fake.click(world.alice, poem, custom_id=button)
    await press.wait_acknowledged(timeout=3)
    aborted_after = await until_engine_idle(engine.url)
    assert aborted_after == aborted_before + 1, "the engine aborted the sequence (it did not just finish)"

    cancelled = await taleweaver.wait(
        lambda: poem if "Cancelled by" in poem.content and not cancel_id(poem) else None, what="the cancelled note"
    )
    number = int(cancelled.custom_ids[0].rsplit(":", 1)[1])
    assert cancelled.custom_ids == [f"poem:regen:{number}", f"poem:another:{number}"]
    assert (await taleweaver.bot.poems.get(number)).text == "", "nothing half-written was stored"  # type: ignore[union-attr]

    regen = await fake.click(world.alice, cancelled, custom_id=f"poem:regen:{number}")
    await regen.wait_acknowledged(timeout=3)
    await taleweaver.wait(lambda: f"poem #{number}" in poem.content and poem.custom_ids, what="the rewritten poem")
    assert (await taleweaver.bot.poems.get(number)).text, "after a Cancel the poem can still be written"  # type: ignore[union-attr]
    assert not no_pings(fake.messages(world.channel))
    assert not any(m.pinged_users for m in fake.messages(world.channel))


async def test_cancel_a_narration_holds_the_story_for_retry(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, engine: EngineProcess
) -> None:
    chan, alice = world.channel, world.alice
    aborted_before = await until_engine_idle(engine.url)
    start = await fake.invoke(alice, chan, "story start", title="Tide", genre="fable", premise="A bell rings at sea.")
    await (await fake.click(alice, await start.wait_original(), label="Start")).wait_acknowledged(timeout=3)

    def narrating() -> Message | None:
        return next((m for m in fake.messages(chan) if cancel_id(m) and m.content.startswith("📖")), None)

    narration = await taleweaver.wait(narrating, what="the opening streaming with a Cancel button")
    button = cancel_id(narration)
    assert button is not None and button.startswith("cancel:story:")
    await until_engine_busy(engine.url)  # pressed before the request reaches the engine, nothing is aborted there
    stranger = await fake.click(world.bob, narration, custom_id=button)  # both at once: no time lost
    press = await fake.click(alice, narration, custom_id=button)
    await stranger.wait_acknowledged(timeout=3)
    assert stranger.ephemeral and re.search("Only the person who asked|already finished", str(stranger.response_data))
    await press.wait_acknowledged(timeout=3)
    assert await until_engine_idle(engine.url) == aborted_before + 1, "the engine aborted it (it did not finish)"
    cancelled = f"Cancelled by <@{alice.id}>"  # not by bob, a non-player
    await taleweaver.wait(lambda: cancelled in narration.content and not cancel_id(narration), what="note")
    await taleweaver.wait(
        lambda: any("`/story retry`" in m.content for m in fake.messages(chan)), what="the retry hint"
    )
    story = (await taleweaver.bot.stories.view(chan.id)).story  # type: ignore[union-attr]
    assert story.phase == "held", "nothing was saved and the story waits for a retry"

    retry = await fake.invoke(alice, chan, "story retry")
    await retry.wait_acknowledged(timeout=3)
    await taleweaver.wait(
        lambda: any(m.content.startswith(f"🎲 <@{alice.id}>") for m in fake.messages(chan)), what="alice's turn"
    )
    assert not no_pings(fake.messages(chan))
