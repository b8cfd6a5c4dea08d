"""Discord glue for bot.safety.automod: the loader (`guild.fetch_automod_rules()`, when the bot has
Manage Server; quietly nothing otherwise) and the AUTO_MODERATION_RULE_* events that keep the cache fresh."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.app import Taleweaver
from bot.safety.automod import KeywordRule

log = logging.getLogger(__name__)


def keyword_rule(rule: discord.AutoModRule) -> KeywordRule | None:
    """Only keyword rules carry words to match (presets, spam and mention rules do not apply to output)."""
    trigger = rule.trigger
    if trigger.type != discord.AutoModRuleTriggerType.keyword:
        return None
    return KeywordRule(
        rule.id,
        rule.name,
        tuple(trigger.keyword_filter),
        tuple(trigger.regex_patterns),
        tuple(trigger.allow_list),
        rule.enabled,
    )


class AutoMod(commands.Cog):
    def __init__(self, bot: Taleweaver) -> None:
        self.bot = bot
        self.rules = bot.automod

    async def cog_load(self) -> None:
        self.rules.loader = self.load

    async def cog_unload(self) -> None:
        self.rules.loader = None

    async def load(self, guild_id: int) -> list[KeywordRule] | None:
        guild = self.bot.get_guild(guild_id)
        if guild is None or not guild.me.guild_permissions.manage_guild:
            return None  # Discord lets only Manage Server read the rules
        try:
            rules = await guild.fetch_automod_rules()
        except discord.HTTPException as exc:
            log.info("cannot read the AutoMod rules of server %s: %s", guild_id, exc)
            return None
        return [r for r in map(keyword_rule, rules) if r is not None]

    @commands.Cog.listener()
    async def on_automod_rule_create(self, rule: discord.AutoModRule) -> None:
        self._put(rule)

    @commands.Cog.listener()
    async def on_automod_rule_update(self, rule: discord.AutoModRule) -> None:
        self._put(rule)

    @commands.Cog.listener()
    async def on_automod_rule_delete(self, rule: discord.AutoModRule) -> None:
        self.rules.drop(rule.guild.id, rule.id)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        if before.permissions.manage_guild != after.permissions.manage_guild:
            self.rules.forget(after.guild.id)  # the bot may (no longer) read them

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if (
            self.bot.user is not None
            and after.id == self.bot.user.id
            and (before.guild_permissions.manage_guild != after.guild_permissions.manage_guild)
        ):
            self.rules.forget(after.guild.id)

    def _put(self, rule: discord.AutoModRule) -> None:
        converted = keyword_rule(rule)
        if converted is None:
            self.rules.drop(rule.guild.id, rule.id)
        else:
            self.rules.put(rule.guild.id, converted)
