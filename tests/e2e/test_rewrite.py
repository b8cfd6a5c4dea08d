"""Rewriting messages end to end: the "Rewrite in a style…" message command and /rewrite, through the
loopback Discord, the real bot, and the real engine and model. The model's words are never asserted."""

from __future__ import annotations

from bot.streaming import WRITING
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.fakediscord import FakeDiscord, FakeInteraction, Message

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
