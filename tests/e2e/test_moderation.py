"""Moderation end to end: the moderator role setting and the audit log, through the loopback Discord."""

from __future__ import annotations

import re

from fakediscord import FakeDiscord
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_stories import answer


async def test_everyone_is_refused_as_the_moderator_role(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    assert taleweaver.bot is not None
    refused = await fake.invoke(world.mod, world.channel, "settings moderator-role", role=world.guild.default_role)
    shown = await answer(refused)
    assert refused.ephemeral and "cannot be the moderator role" in shown and "@\u200beveryone" in shown, shown
    assert (await taleweaver.bot.moderation.settings(world.guild.id)).moderator_role_id is None
    assert not await taleweaver.bot.moderation.audit_log(world.guild.id)

    accepted = await fake.invoke(world.mod, world.channel, "settings moderator-role", role=world.keepers)
    assert "now moderate Taleweaver here" in await answer(accepted)
    assert (await taleweaver.bot.moderation.settings(world.guild.id)).moderator_role_id == world.keepers.id


async def test_every_moderator_action_lands_in_the_audit_log_with_names(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    chan, alice, keeper = world.channel, world.alice, world.cara
    storykeepers = fake.add_role(world.guild, "Storykeepers")  # no permissions: moderates by the setting alone
    fake.set_roles(world.guild, keeper, [storykeepers])
    await answer(await fake.invoke(world.mod, chan, "settings moderator-role", role=storykeepers))

    lobby = await (await fake.invoke(alice, chan, "story start", title="The Lantern Road", genre="fantasy",
                                     premise="A lantern that never goes out.")).wait_original()  # fmt: skip
    added = await answer(await fake.invoke(keeper, chan, "lore add", keys="lantern", content="It burns cold."))
    entry = re.search(r"Lore #(\d+)", added)
    assert entry, added
    await answer(await fake.invoke(keeper, chan, "lore remove", id=int(entry.group(1))))
    pinned = await answer(await fake.invoke(keeper, chan, "story pin", fact="The lantern is cold."))
    pin = re.search(r"fact #(\d+)", pinned)
    assert pin, pinned
    await answer(await fake.invoke(keeper, chan, "story unpin", id=int(pin.group(1))))
    await answer(await fake.invoke(keeper, chan, "story note", text="Keep it eerie."))
    await (await fake.click(keeper, fake.message_by_id[lobby.id], label="Start")).wait_acknowledged()
    for command in ("story pause", "story resume", "story end"):
        shown = await answer(await fake.invoke(keeper, chan, command))
        assert "⚠️" not in shown, shown
    await fake.wait_for(lambda: any(m.content.startswith("🏁 **The End**") for m in fake.messages(chan)), timeout=30)

    log = await fake.invoke(world.mod, chan, "settings audit-log")
    text = (await log.wait_original()).embeds[0]["description"]
    actions = re.findall(r"\*\*([a-z_.]+)\*\*", text)
    assert actions == [
        "story.end", "story.resume", "story.pause", "story.start", "story.note", "story.unpin", "story.pin",
        "lore.remove", "lore.add", "settings.moderator_role",
    ], text  # fmt: skip
    assert "after: **Storykeepers**" in text and "before: none" in text, text
    assert f"channel: <#{chan.id}>" in text and f"starter: <@{alice.id}>" in text and f"<@{keeper.id}>" in text
    assert "“The lantern is cold.”" in text and "keys: lantern" in text
    naked = re.findall(r"(?<![<@#&!\d])\d{15,}", text)  # an id outside a mention or a timestamp
    assert not naked and "<@&" not in text, text
