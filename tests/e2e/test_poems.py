"""/poem and /anthology end to end: fake Discord, the real bot, the real engine and model, a real SQLite file."""

from __future__ import annotations

import re

from bot.streaming import WRITING
from fakediscord import FakeDiscord, FakeInteraction, Message
from tests.e2e.conftest import BotHandle, World, no_pings

DONE = re.compile(r"poem #(\d+)")


async def finished_poem(tw: BotHandle, message_id: int) -> Message:
    """Wait until the poem message shows its footer and carries its buttons."""

    def done() -> Message | None:
        message = tw.fake.message_by_id[message_id]
        return message if DONE.search(message.content) and message.custom_ids else None

    return await tw.wait(done, what="the poem to finish")


async def first_words(tw: BotHandle, ix: FakeInteraction) -> Message:
    """The interaction's message, once it no longer says "thinking…" (the first words are in)."""
    return await tw.wait(lambda: (m := ix.original) is not None and not m.loading and m, what="the first words")


async def write_poem(tw: BotHandle, world: World, **options: object) -> tuple[FakeInteraction, Message]:
    ix = await tw.fake.invoke(world.alice, world.channel, "poem", **options)
    await ix.wait_acknowledged(timeout=3)
    return ix, await finished_poem(tw, (await first_words(tw, ix)).id)


def poem_id(message: Message) -> int:
    match = DONE.search(message.content)
    assert match, message.content
    return int(match.group(1))


async def test_poem_streams_and_offers_buttons(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    # A language without checked forms: one draft, streamed as it is written (checked forms: test_poem_craft).
    ix, poem = await write_poem(
        taleweaver, world, topic="autumn rain", form="haiku", mood="wistful", language="Deutsch"
    )
    assert ix.deferred and not ix.ephemeral, "acknowledged publicly with a thinking placeholder"
    assert ix.ack_latency is not None and ix.ack_latency < 3
    assert poem.content.startswith("**Haiku** · *autumn rain*")
    assert WRITING not in poem.content, "the final message must not claim to be still writing"
    assert any(WRITING in v.content for v in poem.history), "while streaming the message said it was writing"
    assert len(poem.history) >= 3, "the poem was streamed in several edits, not posted at once"
    assert "📏 form not checked" in poem.content, "the footer says the form was not checked"
    assert all(len(v.content) <= 2000 for v in poem.history)
    assert poem.custom_ids[:3] == [f"poem:{a}:{poem_id(poem)}" for a in ("regen", "another", "save")]
    rest = [c.rsplit(":", 1)[0] for c in poem.custom_ids[3:] if not c.startswith("poem:check:")]  # when checked
    assert rest == ["delete:poem", "rate:up", "rate:down"], "then Delete and a rating pair"
    assert poem.allowed_mentions == {"parse": []}
    assert not no_pings(fake.messages(world.channel))


async def test_buttons_regenerate_another_take_and_save(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    _, poem = await write_poem(taleweaver, world, topic="a lighthouse keeper", form="limerick")
    number = poem_id(poem)
    versions_before = len(poem.history)

    stranger = await fake.click(world.bob, poem, custom_id=f"poem:regen:{number}")
    await stranger.wait_acknowledged()
    assert stranger.ephemeral and "Only the person who asked" in (stranger.response_data or {}).get("content", "")

    regen = await fake.click(world.alice, poem, custom_id=f"poem:regen:{number}")
    await regen.wait_acknowledged()

    def rewritten() -> Message | None:
        message = fake.message_by_id[poem.id]
        finished = message.custom_ids and not any(c.startswith("cancel:") for c in message.custom_ids)
        return message if len(message.history) > versions_before + 1 and finished else None

    rewritten_poem = await taleweaver.wait(rewritten, what="the regenerated poem")
    assert poem_id(rewritten_poem) == number, "regenerate rewrites the same poem in place"

    another = await fake.click(world.bob, rewritten_poem, custom_id=f"poem:another:{number}")
    await another.wait_acknowledged()
    second = await finished_poem(taleweaver, (await first_words(taleweaver, another)).id)
    assert second.id != poem.id and poem_id(second) != number, "another take is a new poem; the first stays"
    assert fake.message_by_id[poem.id].custom_ids, "the first poem keeps its buttons"

    save = await fake.click(world.bob, second, custom_id=f"poem:save:{poem_id(second)}")
    await save.wait_acknowledged()
    confirmation = (await save.wait_followups(1))[0]
    assert confirmation.ephemeral and "Saved to the anthology" in confirmation.content
    saved_button = next(c for c in _buttons(fake.message_by_id[second.id]) if c["custom_id"].startswith("poem:save"))
    assert saved_button["disabled"] and saved_button["label"] == "In the anthology"

    listing = await fake.invoke(world.cara, world.channel, "anthology list")
    await listing.wait_acknowledged()
    embed = (listing.response_data or {})["embeds"][0]
    assert f"#{poem_id(second)}" in embed["description"] and f"#{number}`" not in embed["description"]


async def test_saved_poem_survives_restart(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    _, poem = await write_poem(taleweaver, world, topic="the first snow", form="haiku")
    number = poem_id(poem)
    save = await fake.click(world.alice, poem, custom_id=f"poem:save:{number}")
    await save.wait_followups(1)

    await taleweaver.restart()

    shown = await fake.invoke(world.bob, world.channel, "anthology show", id=number)
    await shown.wait_acknowledged()
    message = await shown.wait_original()
    stored = message.embeds[0]["description"]
    assert stored and stored in fake.message_by_id[poem.id].content, "the anthology shows the poem as it was written"
    # The old message's buttons are persistent: they still work after the restart.
    another = await fake.click(world.cara, poem, custom_id=f"poem:another:{number}")
    await another.wait_acknowledged()
    await finished_poem(taleweaver, (await first_words(taleweaver, another)).id)


async def test_hostile_topics_get_clear_replies_and_ping_nobody(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    huge = await fake.invoke(world.alice, world.channel, "poem", topic="@everyone " + "x" * 5000)
    await huge.wait_acknowledged()
    assert huge.ephemeral
    assert "limit is 200" in huge.response_data["content"] and "5,010 characters" in huge.response_data["content"]

    invisible = await fake.invoke(world.alice, world.channel, "poem", topic="\u200b\u200d\u2060 \ufeff")
    await invisible.wait_acknowledged()
    assert invisible.ephemeral and "empty" in invisible.response_data["content"]

    role = world.keepers
    sneaky = f"@everyone @here <@&{role.id}> **bold** ~~gone~~ `code` [link](https://x.test)"
    _, poem = await write_poem(taleweaver, world, topic=sneaky, form="haiku")
    assert "@everyone" not in poem.content.split("\n")[0].replace("@\u200beveryone", ""), (
        "the header quotes the topic defused"
    )
    assert "\\*\\*bold\\*\\*" in poem.content, "markdown in the topic is shown literally"
    assert not no_pings(fake.messages(world.channel)), "no message pinged everyone or a role"
    assert not any(m.pinged_users for m in fake.messages(world.channel))
    assert not fake.unknown_routes


async def test_help_and_status(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    help_ix = await fake.invoke(world.alice, world.channel, "help")
    await help_ix.wait_acknowledged()
    assert help_ix.ephemeral
    first = help_ix.original or await help_ix.wait_original()
    assert "/poem" in first.text and "/poem topic:" in first.text
    nxt = await fake.click(world.alice, first, label="Next")
    await nxt.wait_acknowledged()
    await fake.wait_for(lambda: "/story" in fake.message_by_id[first.id].text, timeout=5, what="help page 2")

    status = await fake.invoke(world.alice, world.channel, "status")
    await status.wait_acknowledged()
    shown = await status.wait_original(timeout=15)
    text = str(shown.embeds)
    assert "SmolLM2-135M-Instruct" in text and "cpu" in text and "Queue" in text


def _buttons(message: Message) -> list[dict]:
    return [c for row in message.components for c in row.get("components", [])]
