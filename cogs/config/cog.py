"""/config show|set|reset|history: thin handlers over bot.config.ConfigService (moderators only)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import BY_KEY, SETTINGS, InvalidValue, Place
from bot.errors import NotAllowed
from bot.text import truncate
from cogs.admin.audit import render_log
from cogs.config.render import change_text, config_embed
from cogs.ui import NO_PINGS, actor_of, in_guild, is_moderator, place_of

AUTOCOMPLETE_LIMIT = 25
Target = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.ForumChannel


class Config(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.config  # type: ignore[attr-defined]

    config = app_commands.Group(
        name="config", description="Moderators: Taleweaver's settings for this server and its channels.",
        guild_only=True,
    )  # fmt: skip

    async def _moderator(self, interaction: discord.Interaction) -> None:
        in_guild(interaction)
        if not await is_moderator(interaction):
            raise NotAllowed(
                "Only moderators can change or read Taleweaver's settings (Manage Server, or the moderator role)."
            )

    @config.command(name="show", description="Every setting here, grouped by feature, and where each comes from.")
    @app_commands.describe(channel="Show what applies in this channel or thread (default: here)")
    async def show(self, interaction: discord.Interaction, channel: Target | None = None) -> None:
        await self._moderator(interaction)
        place = place_of(interaction, channel)
        snapshot = await self.service.at(place)
        where = f"#{channel.name}" if channel is not None else "this channel"
        embed = config_embed(snapshot, where, place.nsfw)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @config.command(name="set", description="Change a setting, server-wide or for one channel (and its threads).")
    @app_commands.describe(
        key="The setting (start typing to search)",
        value="Its new value (suggestions follow the setting)",
        channel="Only in this channel or thread (default: the whole server)",
        role="For role settings: the role",
    )
    async def set(
        self, interaction: discord.Interaction, key: str, value: str = "", channel: Target | None = None,
        role: discord.Role | None = None,
    ) -> None:  # fmt: skip
        await self._moderator(interaction)
        setting = self.service.setting(key)
        if role is not None and setting.kind == "role":
            new, parsed = role.id, True
        elif not value.strip() and setting.kind not in ("text", "list"):
            raise InvalidValue(f"Give `{setting.key}` a value: {setting.allowed()}.")
        else:
            new, parsed = truncate(value, 4000), False
        place = place_of(interaction, channel) if channel is not None else None
        change = await self.service.set(actor_of(interaction), setting.key, new, channel=place, parsed=parsed)
        await interaction.response.send_message(
            change_text(change, _where(channel)), ephemeral=True, allowed_mentions=NO_PINGS
        )

    @config.command(name="reset", description="Undo a setting, so the parent, server or default value applies.")
    @app_commands.describe(key="The setting", channel="Only this channel's own value (default: the server's)")
    async def reset(self, interaction: discord.Interaction, key: str, channel: Target | None = None) -> None:
        await self._moderator(interaction)
        place = place_of(interaction, channel) if channel is not None else None
        change = await self.service.reset(actor_of(interaction), key, channel=place)
        if change.before is None:
            text = f"`{change.setting.key}` had no value of its own {_where(channel)}; nothing changed."
        else:
            text = change_text(change, _where(channel))
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @config.command(name="history", description="Every settings change: who, what, where, before and after.")
    @app_commands.describe(page="Which page (10 changes each, newest first)")
    async def history(self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1) -> None:
        await self._moderator(interaction)
        result = await self.service.history(in_guild(interaction), page)
        if not result.total:
            await interaction.response.send_message("📋 No settings have been changed yet.", ephemeral=True)
            return
        guild = interaction.guild

        def role_name(role_id: int) -> str | None:
            found = guild.get_role(role_id) if guild else None
            return found.name if found else None

        embed = discord.Embed(title="📋 Settings history", description=render_log(result.entries, role_name))
        embed.set_footer(text=f"Page {result.page} of {result.pages} · {result.total} changes")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @set.autocomplete("key")
    @reset.autocomplete("key")
    async def key_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        needle = current.strip().casefold()
        found = [s for s in SETTINGS if needle in s.key or needle in s.doc.casefold()]
        return [
            app_commands.Choice(name=truncate(f"{s.key} — {s.doc}", 100), value=s.key)
            for s in found[:AUTOCOMPLETE_LIMIT]
        ]

    @set.autocomplete("value")
    async def value_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        setting = BY_KEY.get(str(getattr(interaction.namespace, "key", "") or "").strip().casefold())
        if setting is None or interaction.guild_id is None:
            return []
        current_value = getattr(await self.service.at(Place(interaction.guild_id, interaction.channel_id)), setting.key)
        if setting.choices():
            options = setting.choices()
        elif setting.kind == "number":
            options = [str(current_value), str(setting.default)]
        elif setting.kind == "text":
            options = [str(current_value)]
        else:
            options = []  # roles come from the `role` option; word lists are typed
        needle = current.strip().casefold()
        picked = [o for o in dict.fromkeys(options) if o and needle in o.casefold()]
        return [
            app_commands.Choice(name=truncate(f"{o} — {setting.allowed()}", 100), value=truncate(o, 100))
            for o in picked[:AUTOCOMPLETE_LIMIT]
        ]


def _where(channel: Target | None) -> str:
    return f"in #{channel.name}" if channel is not None else "server-wide"
