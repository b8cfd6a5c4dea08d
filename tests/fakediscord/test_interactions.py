"""Slash commands, deferral, components, modals, files and Discord's acknowledgement rules."""

from __future__ import annotations

import discord
import pytest

from fakediscord import FakeDiscord, FakeUsageError

from .conftest import World, running_bot
from .selftest_bot import SelfTestBot


async def test_defer_then_edit_pings_nobody(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.alice, world.chan, "story start", title="The Fog", genre="noir")
    await ix.wait_acknowledged(timeout=3)
    assert ix.response_type == 5 and ix.deferred and ix.ack_latency is not None and ix.ack_latency < 3
    msg = await ix.wait_original()
    assert "started **The Fog** (noir, 3 rounds)" in msg.content
    assert msg.allowed_mentions == {"parse": []}
    assert not msg.pinged_everyone and msg.pinged_users == set() and msg.pinged_roles == set()
    assert msg.custom_ids == ["story:turn", "story:regen", "story:genre"]
    assert msg.history[0].content == ""  # created as "thinking...", then edited
    assert msg.webhook_id == fake.application_id and msg.interaction_id == ix.id


async def test_subcommand_group_and_ephemeral_reply(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.bob, world.chan, "story admin reset", confirm=True)
    msg = await ix.wait_original()
    assert msg.content == "reset confirm=True" and ix.ephemeral and msg.visible_to == world.bob.id
    assert msg not in fake.messages(world.chan, as_user=world.alice)
    assert not any(d.data.get("id") == str(msg.id) for d in fake.dispatches_of("MESSAGE_CREATE"))


async def test_invoke_refuses_what_a_user_could_not_send(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    with pytest.raises(FakeUsageError, match="needs option 'genre'"):
        await fake.invoke(world.alice, world.chan, "story start", title="X")
    with pytest.raises(FakeUsageError, match="must be one of"):
        await fake.invoke(world.alice, world.chan, "story start", title="X", genre="horror")
    with pytest.raises(FakeUsageError, match=r"within 1\.\.10"):
        await fake.invoke(world.alice, world.chan, "story start", title="X", genre="noir", rounds=11)
    with pytest.raises(FakeUsageError, match="no subcommand 'stop'"):
        await fake.invoke(world.alice, world.chan, "story stop")
    with pytest.raises(FakeUsageError, match="no command 'poem'"):
        await fake.invoke(world.alice, world.chan, "poem")


async def test_persistent_button_survives_a_restart(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.alice, world.chan, "story start", title="T", genre="fantasy")
    msg = await ix.wait_original()
    await bot.close()  # the fixture's close afterwards is a no-op
    async with running_bot(fake, world.guild):
        click = await fake.click(world.bob, msg, custom_id="story:turn")
        await click.wait_acknowledged()
        assert click.modal is not None and click.modal["title"] == "Your turn"
        submit = await fake.submit_modal(world.bob, click, {"turn_text": "The door creaks open."})
        reply = await submit.wait_original()
        assert reply.content == "turn by bob: The door creaks open. (mood=-)"


async def test_modal_refuses_missing_required_field(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.alice, world.chan, "story start", title="T", genre="fantasy")
    click = await fake.click(world.alice, await ix.wait_original(), label="Take a turn")
    await click.wait_acknowledged()
    with pytest.raises(FakeUsageError, match="'turn_text' is required"):
        await fake.submit_modal(world.alice, click, {"mood": "grim"})


async def test_button_updates_message_and_select_follows_up(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.alice, world.chan, "story start", title="T", genre="fantasy")
    msg = await ix.wait_original()
    click = await fake.click(world.alice, msg, custom_id="story:regen")
    await fake.wait_for(lambda: msg.content == "regenerated")
    assert click.response_type == 7 and len(msg.edits) == 2
    pick = await fake.select(world.alice, msg, "story:genre", ["noir"])
    (note,) = await pick.wait_followups()
    assert pick.response_type == 6 and note.content == "genre is now noir" and note.ephemeral


async def test_files_on_interaction_and_channel(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.alice, world.chan, "story export")
    msg = await ix.wait_original()
    assert [(a.filename, a.data) for a in msg.attachments] == [("story.md", b"Once upon a time.")]
    copy = await fake.wait_for_message(world.chan, lambda m: m.content == "and a channel copy")
    assert copy.attachments[0].text == "chapter two"
    assert any(r.files == [("chapter2.txt", b"chapter two")] for r in fake.requests_matching("POST", "/channels/"))
    fetched = await bot.get_channel(world.chan.id).fetch_message(copy.id)  # type: ignore[union-attr]
    assert await fetched.attachments[0].read() == b"chapter two"


async def test_second_acknowledgement_fails(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    ix = await fake.invoke(world.alice, world.chan, "twice")
    assert (await ix.wait_original()).content == "done"
    client_side, server_side = bot.errors
    assert isinstance(client_side, discord.InteractionResponded)
    assert isinstance(server_side, discord.HTTPException) and server_side.code == 40060
    assert [e.code for e in ix.rejected_callbacks] == [40060]


async def test_late_acknowledgement_is_unknown_interaction(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    fake.ack_deadline = 0.1
    ix = await fake.invoke(world.alice, world.chan, "slow")
    await fake.wait_for(lambda: bot.errors)
    assert isinstance(bot.errors[0], discord.NotFound) and bot.errors[0].code == 10062
    assert not ix.acknowledged


async def test_autocomplete(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    choices = await fake.autocomplete(world.alice, world.chan, "npc say", focused="name", name="mar", text="")
    assert choices == [{"name": "Old Marta", "value": "Old Marta"}]


async def test_hidden_commands_are_not_invocable(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    (story,) = fake.commands.registered(world.guild.id)
    story.payload["default_member_permissions"] = str(discord.Permissions(manage_guild=True).value)
    charlie = fake.add_user("charlie")
    fake.add_member(world.guild, charlie)
    with pytest.raises(FakeUsageError, match="hides /story admin reset from charlie"):
        await fake.invoke(charlie, world.chan, "story admin reset", confirm=False)
    ix = await fake.invoke(world.bob, world.chan, "story admin reset", confirm=False)  # bob is a Storyteller
    await ix.wait_acknowledged()
