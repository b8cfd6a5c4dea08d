"""Rewriting messages end to end: the "Rewrite in a style…" message command and /rewrite, through the
loopback Discord, the real bot, and the real engine and model. The model's words are never asserted."""

from __future__ import annotations

import functools
import json

import pytest

from bot.safety.matcher import REDACTION, Matcher
from bot.streaming import WRITING
from fakediscord import FakeDiscord, FakeInteraction, Message
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.e2e.test_safety import COMMON, streamed_text
from tests.e2e.test_stories import answer

MENU = "Rewrite in a style…"


async def picked(fake: FakeDiscord, world: World, target: Message) -> tuple[FakeInteraction, Message]:
    """Alice opens the message command on `target`; returns it and the private style picker."""
    menu = await fake.context_menu(world.alice, world.channel, MENU, target)
    await menu.wait_acknowledged(timeout=3)
    assert menu.ephemeral, menu.response_data
    return menu, await menu.wait_original()


async def test_rewrite_menu_on_an_embed_only_message_in_a_picked_style(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    assert MENU in {c.name for c in fake.commands.registered(world.guild)}
    narration = await fake.post_message(
        world.bob,
        world.channel,
        embeds=[{"title": "The Lost Key", "description": "Mira finds a brass key in the snow. @everyone gasps."}],
    )
    _, chooser = await picked(fake, world, narration)
    custom_id = f"rewrite:pick:{narration.id}"
    assert custom_id in chooser.custom_ids

    noir = await fake.select(world.alice, chooser, custom_id, ["noir"])
    await noir.wait_acknowledged(timeout=3)
    assert noir.deferred and not noir.ephemeral, "the rewrite is posted for the channel to read"

    def finished() -> Message | None:
        message = noir.original
        return message if message is not None and "— rewritten for" in message.content else None

    rewrite = await taleweaver.wait(finished, what="the rewrite")
    assert rewrite.content.startswith("🎭 **Noir** · [bob's message](")
    assert f"/{narration.id})" in rewrite.content.split("\n")[0], "the header links the original message"
    assert WRITING not in rewrite.content and len(rewrite.content) <= 2000
    assert rewrite.allowed_mentions == {"parse": []}
    assert not no_pings(fake.messages(world.channel)) and not rewrite.pinged_users


async def test_rewrite_refuses_empty_huge_and_hostile_requests_clearly(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    image_only = await fake.post_message(world.bob, world.channel, files=[("map.png", b"\x89PNG\r\n\x1a\n")])
    menu = await fake.context_menu(world.alice, world.channel, MENU, image_only)
    await menu.wait_acknowledged(timeout=3)
    assert menu.ephemeral and "no text to rewrite" in menu.response_data["content"]

    huge = await fake.post_message(world.bob, world.channel, "word " * 400)
    menu = await fake.context_menu(world.alice, world.channel, MENU, huge)
    await menu.wait_acknowledged(timeout=3)
    assert menu.ephemeral and "the limit is 1,500" in menu.response_data["content"]

    fine = await fake.post_message(world.bob, world.channel, "Bob lights the lantern.")
    _, chooser = await picked(fake, world, fine)
    own = await fake.select(world.alice, chooser, f"rewrite:pick:{fine.id}", ["free"])
    await own.wait_acknowledged(timeout=3)
    assert own.modal is not None, "a style of one's own is typed into a small form"
    hostile = await fake.submit_modal(world.alice, own, {"style": "@everyone https://evil.test"})
    await hostile.wait_acknowledged(timeout=3)
    assert hostile.ephemeral and "no links or mentions" in hostile.response_data["content"]
    assert "@everyone" not in hostile.response_data["content"].replace("@\u200beveryone", "")

    slash = await fake.invoke(world.alice, world.channel, "rewrite", text="\u200b\u2060", style="noir")
    await slash.wait_acknowledged(timeout=3)
    assert slash.ephemeral and "empty" in slash.response_data["content"]
    styles = await fake.autocomplete(world.alice, world.channel, "rewrite", focused="style", text="x", style="sha")
    assert [c["value"] for c in styles] == ["shakespearean"]
    assert not no_pings(fake.messages(world.channel))


async def test_rewrite_honours_the_servers_switch_and_passes_the_safety_gate(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    """`rewrite_enabled` turns both ways in off; blocked words are refused on the way in and blacked out on the
    way out (the commonest English words are blocked, so the model's real output has some to black out)."""
    mod, alice, chan = world.mod, world.alice, world.channel
    proxy = taleweaver.proxy
    assert proxy is not None
    target = await fake.post_message(world.bob, chan, "Bob lights the lantern and the grue waits in the dark.")
    asked = proxy.completions
    await answer(await fake.invoke(mod, chan, "config set", key="rewrite_enabled", value="off", channel=chan))
    slash = await fake.invoke(alice, chan, "rewrite", text="The door opened.", style="noir")
    assert "Rewrites are turned off" in await answer(slash) and slash.ephemeral
    menu = await fake.context_menu(alice, chan, MENU, target)
    assert "Rewrites are turned off" in await answer(menu) and menu.ephemeral

    await answer(await fake.invoke(mod, chan, "config set", key="rewrite_enabled", value="on", channel=chan))
    await answer(await fake.invoke(mod, chan, "config set", key="blocked_words", value="grue"))
    slash = await fake.invoke(alice, chan, "rewrite", text="A G\u200bRUE sleeps.", style="noir")
    assert "Your text contains" in await answer(slash) and slash.ephemeral
    _, chooser = await picked(fake, world, target)
    refused = await fake.select(alice, chooser, f"rewrite:pick:{target.id}", ["noir"])
    assert "Your passage contains" in await answer(refused) and refused.ephemeral
    assert proxy.completions == asked, "nothing refused reached the model"

    await answer(await fake.invoke(mod, chan, "config set", key="blocked_words", value=", ".join(COMMON)))
    await answer(await fake.invoke(mod, chan, "config set", key="max_length", value="40"))
    matcher = Matcher(COMMON)
    for _ in range(3):  # a rewrite with none of these words is possible, if very unlikely; it is tried again
        start = len(proxy.streamed)
        ix = await fake.invoke(alice, chan, "rewrite", text="Mira walks toward old mills at dusk.", style="epic")
        message = await taleweaver.wait(functools.partial(_rewritten, ix), what="the rewrite")
        if matcher.find(streamed_text(bytes(proxy.streamed[start:]))):
            break
    else:
        pytest.fail("in three rewrites the model never wrote a common English word; nothing to redact")
    assert REDACTION in message.content and "Blocked words were blacked out" in message.content
    body = message.content.split("\n\n", 1)[1].split("\n🛡️", 1)[0]
    assert not matcher.find(body), body
    sent = json.loads(proxy.requests[-1])
    assert sent["max_tokens"] <= 40 and "suitable for all ages" in sent["messages"][0]["content"]
    assert not no_pings(fake.messages(chan))


def _rewritten(ix: FakeInteraction) -> Message | None:
    message = ix.original
    return message if message is not None and "— rewritten for" in message.content else None
