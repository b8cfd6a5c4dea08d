"""Deleting a poem, /privacy forget-me and /story purge (issue 9), end to end: the fake Discord, the real
bot, the real engine and model, and a real SQLite file whose bytes (and WAL) are searched afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakediscord import FakeDiscord, FakeInteraction, Message
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.e2e.test_poems import write_poem


def stored_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def confirm(fake: FakeDiscord, ix: FakeInteraction, user: object, label: str) -> Message:
    """Press the confirmation's Yes button; returns the private message once it says what was done."""
    await ix.wait_acknowledged(timeout=3)
    prompt = ix.original or await ix.wait_original()
    assert prompt.ephemeral
    yes = await fake.click(user, prompt, label=label)  # type: ignore[arg-type]
    await yes.wait_acknowledged(timeout=3)
    await fake.wait_for(lambda: "⏳" not in prompt.content and "Removing" not in prompt.content, what="the result")
    return prompt


async def test_delete_forget_me_and_purge_leave_no_trace_in_the_database_file(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    bot, chan, alice, mod = taleweaver.bot, world.channel, world.alice, world.mod
    assert bot is not None
    path = taleweaver.db_path

    # Delete: only whoever asked for the poem (or a moderator) may.
    _, first = await write_poem(taleweaver, world, topic="a lantern Dl9deleteMARKER", form="haiku")
    button = next(c for c in first.custom_ids if c.startswith("delete:poem:"))
    refused = await fake.click(world.bob, first, custom_id=button)
    await refused.wait_acknowledged(timeout=3)
    assert refused.ephemeral and "Only the person who asked" in str(refused.response_data)
    await (await fake.click(alice, first, custom_id=button)).wait_acknowledged(timeout=3)
    await fake.wait_for(lambda: first.deleted, what="the poem's message deleted")
    assert b"Dl9deleteMARKER" not in stored_bytes(path)

    # What forget-me must remove: a poem, a story turn and a pinned fact of alice's.
    await write_poem(taleweaver, world, topic="a kettle Fg7forgetPOEM", form="haiku")
    # Free mode, three contributions per narration: no narrator retells alice's turn meanwhile.
    start = await fake.invoke(
        alice, chan, "story start", title="Pu5purgeTITLE", genre="fable", premise="A door.", mode="free"
    )
    await (await fake.click(alice, await start.wait_original(), label="Start")).wait_acknowledged(timeout=3)
    while (await bot.stories.view(chan.id)).story.phase != "turns":  # the opening is being written
        await asyncio.sleep(0.2)
    await (await fake.invoke(alice, chan, "story pin", fact="Fg7forgetPIN is a key")).wait_acknowledged(timeout=3)
    turn = await fake.invoke(alice, chan, "story add", text="I open Fg7forgetTURN slowly.")
    await turn.wait_acknowledged(timeout=3)
    data = stored_bytes(path)
    assert all(m in data for m in (b"Fg7forgetPOEM", b"Fg7forgetPIN", b"Fg7forgetTURN", b"Pu5purgeTITLE"))

    forget = await confirm(fake, await fake.invoke(alice, chan, "privacy forget-me"), alice, "Yes, forget me")
    assert "1 poem(s)" in forget.content and "1 story turn(s)" in forget.content and "1 pinned" in forget.content
    data = stored_bytes(path)
    assert not any(m in data for m in (b"Fg7forgetPOEM", b"Fg7forgetPIN", b"Fg7forgetTURN")), "forget-me left a trace"
    assert b"Pu5purgeTITLE" in data, "the table's story itself stays until a moderator purges it"

    # Purge: moderators only, after a confirmation; the running narration stops with it.
    refused = await fake.invoke(world.bob, chan, "story purge")
    await refused.wait_acknowledged(timeout=3)
    assert refused.ephemeral and "Only moderators" in str(refused.response_data)
    purged = await confirm(fake, await fake.invoke(mod, chan, "story purge"), mod, "Yes, purge it")
    assert "Purged story" in purged.content
    assert b"Pu5purgeTITLE" not in stored_bytes(path)
    audit = await bot.moderation.audit_log(world.guild.id)
    assert audit[0].action == "story.purge" and "Pu5purgeTITLE" not in str(audit)
    assert not no_pings(fake.messages(chan))
