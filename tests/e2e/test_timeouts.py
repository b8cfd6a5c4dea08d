"""A generation that runs out of ENGINE_TIMEOUT keeps what it wrote, says so, and can go on (issue 7,
item 9), through the fake Discord, the real bot, the real engine and model and a real SQLite file.

The proxy in front of the engine hands over the model's real text, then goes silent: the bot's limit
runs out after a known amount of text, whatever the speed of the machine.
"""

from __future__ import annotations

from bot.streaming import WAITING, WRITING
from fakediscord import FakeDiscord, Message
from tests.e2e.conftest import BotHandle, World, no_pings, wait_working
from tests.support.engine_proxy import EngineProxy

POEM_CUT = "✂️ *Time ran out, so the poem stops here.* Press **Continue** for the rest."
STORY_CUT = "✂️ *Time ran out, so the narrator stopped here.* **Continue** asks for the rest."


def settled(message: Message | None, note: str = "") -> Message | None:
    """The message, once it carries buttons, says `note` and no longer claims to be writing."""
    if message is None or not message.custom_ids or not done(message):
        return None
    return message if note in message.content else None


def done(message: Message) -> bool:
    return WRITING not in message.content and WAITING not in message.content


def body(message: Message, note: str) -> str:
    """The text under the message's header line, without the note."""
    return message.content.split("\n\n", 1)[1].split(f"\n\n{note}")[0]


async def test_a_poem_and_a_narration_cut_by_the_time_limit_are_kept_and_continue_after_a_restart(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, proxy: EngineProxy
) -> None:
    chan, alice, bob = world.channel, world.alice, world.bob
    assert taleweaver.bot is not None
    roomy = taleweaver.engine_timeout
    taleweaver.engine_timeout = 2.0
    await taleweaver.restart()
    proxy.mode, proxy.stall_after = "stall", 12

    ix = await fake.invoke(alice, chan, "poem", topic="a lantern in the snow", form="free verse")
    await ix.wait_acknowledged(timeout=3)
    poem = await wait_working(fake, proxy, lambda: settled(ix.original, POEM_CUT), what="the cut poem")
    number = int(poem.custom_ids[0].rsplit(":", 1)[1])
    assert poem.custom_ids[:5] == [f"poem:{a}:{number}" for a in ("continue", "regen", "another", "save", "check")]
    poem_kept, poem_edits = body(poem, POEM_CUT), len(poem.history)
    assert poem_kept.strip() and f"— for <@{alice.id}> · poem #{number}" in poem.content
    assert (await taleweaver.bot.poems.get(number)).text == poem_kept

    start = await fake.invoke(alice, chan, "story start", title="Snow", genre="fable", premise="A lantern is found.")
    await (await fake.click(alice, await start.wait_original(), label="Start")).wait_acknowledged()

    def cut_opening() -> Message | None:
        return next((m for m in fake.messages(chan) if settled(m, STORY_CUT)), None)

    opening = await wait_working(fake, proxy, cut_opening, what="the cut opening")
    assert opening.custom_ids[0].startswith("story:continue:")
    opening_kept, opening_edits = body(opening, STORY_CUT), len(opening.history)
    await wait_working(  # the opening was kept, so the story began: it is alice's turn
        fake, proxy, lambda: any(m.content.startswith(f"🎲 <@{alice.id}>") for m in fake.messages(chan)), what="ping"
    )

    # A restart, with time enough: the Continue buttons outlive the bot that made them.
    proxy.mode, taleweaver.engine_timeout = "pass", roomy
    await taleweaver.restart()
    outsider = await fake.click(bob, opening, label="Continue")
    await outsider.wait_acknowledged(timeout=3)
    assert outsider.ephemeral and "Only the person who started this story" in str(outsider.response_data)

    for message, edits in ((poem, poem_edits), (opening, opening_edits)):
        await (await fake.click(alice, message, label="Continue")).wait_acknowledged(timeout=3)
        await wait_working(fake, proxy, lambda m=message, e=edits: len(m.history) > e + 1 and done(m), what="more")
    assert POEM_CUT not in poem.content and "continue" not in " ".join(poem.custom_ids)
    poem_now = (await taleweaver.bot.poems.get(number)).text
    shown = body(poem, "📏").split("\n\n⚠️")[0]  # the continuation may itself reach the length limit and say so
    assert poem_now.startswith(poem_kept) and len(poem_now) > len(poem_kept) and shown == poem_now
    assert STORY_CUT not in opening.content and not opening.custom_ids
    _, _, turns = await taleweaver.bot.stories.transcript(chan.id)
    narration = next(t for t in turns if t.kind == "narrator").text
    assert narration.startswith(opening_kept) and len(narration) > len(opening_kept)
    assert body(opening, "\0") == narration
    assert not no_pings(fake.messages(chan))
