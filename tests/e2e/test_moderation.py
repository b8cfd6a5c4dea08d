"""Moderation end to end: the moderator role setting and the audit log, through the loopback Discord."""

from __future__ import annotations

from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_stories import answer
from tests.fakediscord import FakeDiscord


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
