"""Help, status and moderator settings."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.engine_client import EngineError
from bot.errors import NotAllowed
from bot.text import echo
from cogs.admin.audit import render_log
from cogs.admin.help import SECTIONS, render_section
from cogs.ui import NO_PINGS, actor_of, in_guild, is_moderator


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{minutes}m", f"{secs}s"])


class HelpPages(discord.ui.View):
    """Previous/next buttons over the help sections (one embed per page)."""

    def __init__(self, user_id: int) -> None:
        super().__init__(timeout=600)
        self.user_id = user_id
        self.page = 0
        self._sync()

    def embed(self) -> discord.Embed:
        section = SECTIONS[self.page]
        embed = discord.Embed(title=f"Taleweaver help · {section.title}", description=render_section(section))
        embed.set_footer(text=f"Page {self.page + 1} of {len(SECTIONS)}")
        return embed

    def _sync(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page == len(SECTIONS) - 1

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.page = max(0, self.page - 1)
        self._sync()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.page = min(len(SECTIONS) - 1, self.page + 1)
        self._sync()
        await interaction.response.edit_message(embed=self.embed(), view=self)


class Admin(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="Every Taleweaver command, with examples.")
    async def help(self, interaction: discord.Interaction) -> None:
        view = HelpPages(interaction.user.id)
        await interaction.response.send_message(embed=view.embed(), view=view, ephemeral=True)

    @app_commands.command(name="status", description="What the storyteller runs on, and how busy it is.")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed = discord.Embed(title="Taleweaver status", colour=discord.Colour.blurple())
        embed.add_field(name="Bot uptime", value=_duration(self.bot.uptime))
        try:
            health = await self.bot.engine.health()
        except EngineError as exc:
            embed.add_field(name="Engine", value=f"unreachable: {exc}", inline=False)
        else:
            state = str(health.get("status", "unknown"))
            embed.add_field(name="Engine", value=state + (f" ({health['progress']})" if state == "loading" else ""))
            embed.add_field(name="Model", value=str(health.get("model") or "?"))
            if interaction.guild_id is not None:
                adapter = await self.bot.model_adapter(str(interaction.guild_id))
                embed.add_field(name="This server's storyteller", value=echo(adapter) if adapter else "the base model")
            embed.add_field(name="Device", value=str(health.get("device") or "?"))
            embed.add_field(name="Quantization", value=str(health.get("quantization") or "none"))
            embed.add_field(
                name="Queue", value=f"{health.get('queue_depth', 0)} waiting · {health.get('running', 0)} writing"
            )
            if "uptime_s" in health:
                embed.add_field(name="Engine uptime", value=_duration(float(health["uptime_s"])))
        embed.timestamp = discord.utils.utcnow()
        await interaction.followup.send(embed=embed, ephemeral=True)

    settings = app_commands.Group(
        name="settings",
        description="Moderator settings for Taleweaver on this server.",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @settings.command(name="moderator-role", description="Let a role moderate Taleweaver (besides Manage Server).")
    @app_commands.describe(role="The role; leave empty to clear it")
    async def moderator_role(self, interaction: discord.Interaction, role: discord.Role | None = None) -> None:
        in_guild(interaction)
        actor = actor_of(interaction)
        if not actor.manage_guild:  # the role itself must not be able to hand itself out
            raise NotAllowed("Only members with the Manage Server permission can choose the moderator role.")
        await self.bot.moderation.set_moderator_role(actor, role.id if role else None)
        text = f"🛡️ Members with {role.mention} now moderate Taleweaver here." if role else "🛡️ Moderator role cleared."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @settings.command(name="audit-log", description="Recent changes made by moderators.")
    async def audit_log(self, interaction: discord.Interaction) -> None:
        if not await is_moderator(interaction):
            raise NotAllowed("Only moderators can read the audit log.")
        entries = await self.bot.moderation.audit_log(in_guild(interaction))
        if not entries:
            await interaction.response.send_message("📋 No moderator changes recorded yet.", ephemeral=True)
            return
        guild = interaction.guild

        def role_name(role_id: int) -> str | None:
            role = guild.get_role(role_id) if guild else None
            return role.name if role else None

        embed = discord.Embed(title="📋 Audit log", description=render_log(entries, role_name))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)
