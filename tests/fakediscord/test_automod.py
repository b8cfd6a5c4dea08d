"""AutoMod rules through the real discord.py: the routes, their permission check, and the gateway events."""

from __future__ import annotations

import asyncio

import discord
import pytest

from fakediscord import FakeDiscord
from fakediscord.permissions import MANAGE_GUILD

from .conftest import World
from .selftest_bot import SelfTestBot


async def test_rules_need_manage_server(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    with pytest.raises(discord.Forbidden) as refused:
        await guild.fetch_automod_rules()
    assert refused.value.code == 50013


async def test_rules_round_trip_and_events(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    fake.bot_role(world.guild).permissions |= MANAGE_GUILD
    guild = bot.get_guild(world.guild.id)
    assert guild is not None

    created = asyncio.ensure_future(bot.wait_for("automod_rule_create", timeout=5))
    rule = await guild.create_automod_rule(
        name="no dragons",
        event_type=discord.AutoModRuleEventType.message_send,
        trigger=discord.AutoModTrigger(keyword_filter=["dragon*"], allow_list=["dragonfly"]),
        actions=[discord.AutoModRuleAction(custom_message="no")],
        enabled=True,
    )
    assert (await created).id == rule.id
    fetched = await guild.fetch_automod_rules()
    assert [r.name for r in fetched] == ["no dragons"]
    assert fetched[0].trigger.keyword_filter == ["dragon*"] and fetched[0].trigger.allow_list == ["dragonfly"]

    updated = asyncio.ensure_future(bot.wait_for("automod_rule_update", timeout=5))
    await rule.edit(trigger=discord.AutoModTrigger(keyword_filter=["wyrm"]))
    assert (await updated).trigger.keyword_filter == ["wyrm"]

    deleted = asyncio.ensure_future(bot.wait_for("automod_rule_delete", timeout=5))
    await rule.delete()
    assert (await deleted).id == rule.id and await guild.fetch_automod_rules() == []
    with pytest.raises(discord.NotFound):
        await guild.fetch_automod_rule(rule.id)


async def test_a_rule_made_in_discord_reaches_the_bot(fake: FakeDiscord, world: World, bot: SelfTestBot) -> None:
    created = asyncio.ensure_future(bot.wait_for("automod_rule_create", timeout=5))
    made = fake.add_automod_rule(world.guild, "words", keywords=["*grue*"], regex=[r"\bzork\b"])
    heard = await created
    assert heard.id == int(made["id"]) and heard.trigger.regex_patterns == [r"\bzork\b"]
    gone = asyncio.ensure_future(bot.wait_for("automod_rule_delete", timeout=5))
    fake.remove_automod_rule(made)
    assert (await gone).id == heard.id and not fake.automod_rules
