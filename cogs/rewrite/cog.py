"""Rewriting any message in another style: thin handlers over bot.rewrite.RewriteService."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Taleweaver
from bot.config import ConfigSnapshot
from bot.errors import NotFound, describe
from bot.llm.client import EngineError, Queued, TextDelta
from bot.rewrite import FREE, STYLES, RewriteDone, RewriteRequest, message_text, prepare
from bot.safety.gate import WITHHELD, SafetyContext
from bot.text import echo, quote, truncate
from cogs.rewrite.views import FreeStyle, StylePicker, picker
from cogs.ui import NO_PINGS, InteractionSink, admit, defer_public, guarded, in_guild, place_of, renderer

MENU_NAME = "Rewrite in a style…"


def source_of(message: discord.Message) -> str:
    embeds = [
        (e.title or "", e.description or "", [(f.name or "", f.value or "") for f in e.fields]) for e in message.embeds
    ]
    return message_text(message.content, embeds)


def header(request: RewriteRequest, origin: discord.Message | None) -> str:
    where = ""
    if origin is not None:
        who = quote(origin.author.display_name, 40)
        where = f" · [{who}'s message]({origin.jump_url})"
    return f"🎭 **{quote(request.label, 60)}**{where}\n\n"


def footer(done: RewriteDone, user_id: int) -> str:
    lines = [f"🛡️ *{done.safety}*"] if done.safety else []
    if done.cut_short:
        lines.append("✂️ *Time ran out, so the rewrite stops here.*")
    if done.truncated:
        lines.append("⚠️ *The rewrite reached its length limit and may be cut short.*")
    if done.form_check is not None:
        lines.append(f"📏 {truncate(echo(done.form_check.summary), 90)}")
    lines.append(f"— rewritten for <@{user_id}>")
    return "\n".join(lines)


class Rewrite(commands.Cog):
    def __init__(self, bot: Taleweaver) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.rewrite_menu)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(StylePicker)
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        self.bot.remove_dynamic_items(StylePicker)

    @app_commands.command(name="rewrite", description="Rewrite a passage in another style: noir, epic, haiku…")
    @app_commands.guild_only()
    @app_commands.describe(
        text="The passage to rewrite (up to 1,500 characters)",
        style="noir, fairy tale, Shakespearean, epic, for children, haiku, screenplay — or your own words",
    )
    async def rewrite(self, interaction: discord.Interaction, text: str, style: str) -> None:
        in_guild(interaction)
        request = prepare(text, style)  # bad input is answered privately, before deferring
        settings = await admit(interaction, "rewrite", _typed(request, "text"), generates=True)
        await defer_public(interaction)
        await self._write(interaction, request, None, settings)

    @rewrite.autocomplete("style")
    async def style_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        return [
            app_commands.Choice(name=s.label, value=s.key)
            for s in STYLES.values()
            if typed in s.label.lower() or typed in s.key
        ]

    async def rewrite_menu(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The message command: check there is something to rewrite, then offer the styles (privately)."""
        guild_id = in_guild(interaction)
        settings = await self.bot.config.at(place_of(interaction))  # turned off here: say so before the styles
        self.bot.limits.check(settings, guild_id, interaction.user.id, "rewrite", generates=False)
        prepare(source_of(message), "noir")  # empty or huge: say so now, not after a style was picked
        await interaction.response.send_message(
            f"🎭 Rewrite {quote(message.author.display_name, 40)}'s message in which style?",
            view=picker(message.id),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @guarded
    async def on_pick(self, interaction: discord.Interaction, message_id: int, style: str) -> None:
        if style == FREE.key:
            await interaction.response.send_modal(FreeStyle(message_id))
            return
        await self.rewrite_message(interaction, message_id, style)

    @guarded
    async def rewrite_message(self, interaction: discord.Interaction, message_id: int, style: str) -> None:
        in_guild(interaction)
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise NotFound("That message's channel is out of reach.")
        try:
            origin = await channel.fetch_message(message_id)
        except discord.NotFound:
            raise NotFound("That message is gone, so there is nothing to rewrite.") from None
        request = prepare(source_of(origin), style)
        settings = await admit(interaction, "rewrite", _typed(request, "passage"), generates=True)
        await defer_public(interaction)
        await self._write(interaction, request, origin, settings)

    async def _write(
        self,
        interaction: discord.Interaction,
        request: RewriteRequest,
        origin: discord.Message | None,
        settings: ConfigSnapshot,
    ) -> None:
        guild_id = in_guild(interaction)
        safety = SafetyContext(guild_id, interaction.channel_id, interaction.user.id, "rewrite", settings)
        with self.bot.limits.writing(guild_id):  # counted against the server's limit while it is written
            await self._stream(interaction, request, origin, safety)

    async def _stream(
        self,
        interaction: discord.Interaction,
        request: RewriteRequest,
        origin: discord.Message | None,
        safety: SafetyContext,
    ) -> None:
        sink = InteractionSink(interaction)
        stream = renderer(sink, header(request, origin))
        done: RewriteDone | None = None
        try:
            async for event in self.bot.rewrites.rewrite(request, tenant=str(interaction.guild_id), safety=safety):
                if isinstance(event, Queued):
                    await stream.queued(event.position, event.eta)
                elif isinstance(event, TextDelta):
                    await stream.update(event.text)
                else:
                    done = event
        except EngineError as exc:
            await stream.finish("", note=f"⚠️ {describe(exc)} Please try again.")
            return
        except discord.NotFound:
            return  # the message was deleted while we wrote; leaving the stream aborts the generation
        assert done is not None
        if done.withheld:
            await stream.finish("", note=f"{WITHHELD} {done.safety}")
            return
        if not done.text:
            await stream.finish("", note="🤔 The storyteller found no words this time. Please try again.")
            return
        await stream.finish(done.text, note=footer(done, interaction.user.id))


def _typed(request: RewriteRequest, passage: str) -> dict[str, str]:
    """What the gate screens before the model sees it: the passage and a style in the user's own words."""
    return {passage: request.text, "style": request.free_style}
