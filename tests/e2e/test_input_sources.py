"""Other bots and webhooks are never read as input (issue 9): only a person's message reaches
`on_human_message`, the event every feature listens to. Through the fake Discord and the real bot."""

from __future__ import annotations

import discord

from fakediscord import FakeDiscord
from tests.e2e.conftest import BotHandle, World


async def test_only_people_are_heard(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    bot = taleweaver.bot
    assert bot is not None
    heard: list[str] = []
    everything: list[str] = []

    async def on_human_message(message: discord.Message) -> None:
        heard.append(message.content)

    async def on_message(message: discord.Message) -> None:
        everything.append(message.content)

    bot.add_listener(on_human_message)
    bot.add_listener(on_message)
    robot = fake.add_user("robot", bot=True)
    fake.add_member(world.guild, robot)
    channel = bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    hook = await channel.create_webhook(name="Outsider")

    await fake.post_message(robot, world.channel, "from a bot")
    await hook.send("from a webhook", username="Mira")
    await channel.send("from Taleweaver itself")
    await fake.post_message(world.alice, world.channel, f"<@{fake.bot.id}> from alice")
    await fake.wait_for(lambda: len(everything) >= 4, what="all four messages delivered")
    assert heard == [f"<@{fake.bot.id}> from alice"]
    assert sorted(everything) == sorted(["from a bot", "from a webhook", "from Taleweaver itself", heard[0]])
