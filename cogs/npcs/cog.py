"""/npc create|edit|delete|list|show|say: thin handlers over bot.npcs (NpcService, NpcConversation)."""

from __future__ import annotations

import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Taleweaver
from bot.errors import NotAllowed
from bot.llm.client import EngineError
from bot.npcs.model import Npc, check_name, parse_tags
from bot.npcs.service import check_avatar_url
from bot.text import InputProblem, echo, quote, truncate
from cogs.npcs import cards as cards_ui
from cogs.npcs.views import ConfirmDelete, NpcForm
from cogs.npcs.voice import NpcVoice, Speakable
from cogs.ui import NO_PINGS, actor_of, admit, bot_of, in_guild

log = logging.getLogger(__name__)

AVATAR_BYTES = 8 * 1024 * 1024


async def npc_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Name autocomplete wherever an NPC is named."""
    if interaction.guild_id is None:
        return []
    names = await bot_of(interaction).npcs.names(interaction.guild_id, current)
    return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names]


def avatar_of(attachment: discord.Attachment | None, url: str | None) -> str | None:
    """An uploaded image wins over a link. Discord's attachment links are signed and may expire."""
    if attachment is not None:
        if not (attachment.content_type or "").startswith("image/"):
            raise InputProblem("The avatar must be an image (PNG, JPEG, GIF or WebP).")
        if attachment.size > AVATAR_BYTES:
            raise InputProblem("The avatar image is larger than 8 MB; please upload a smaller one.")
        return attachment.url
    return check_avatar_url(url)


def speakable(interaction: discord.Interaction) -> Speakable:
    channel = interaction.channel
    if not isinstance(channel, discord.TextChannel | discord.Thread):
        raise NotAllowed("NPCs speak in text channels and threads only.")
    return channel


def card_embed(npc: Npc) -> discord.Embed:
    embed = discord.Embed(title=f"🎭 {truncate(echo(npc.name), 250)}", description=quote(npc.description, 1500))
    for label, value in (("Personality", npc.personality), ("Scenario", npc.scenario), ("Greeting", npc.first_mes)):
        if value:
            embed.add_field(name=label, value=quote(value, 500), inline=False)
    if npc.tags:
        embed.add_field(name="Tags", value=quote(", ".join(npc.tags), 300), inline=False)
    if npc.avatar_url:
        embed.set_thumbnail(url=npc.avatar_url)
    embed.add_field(name="Made by", value=f"<@{npc.creator_id}>", inline=True)  # shown, never pinged
    embed.set_footer(text=f"NPC #{npc.id}")
    return embed


class Npcs(commands.Cog):
    def __init__(self, bot: Taleweaver) -> None:
        self.bot = bot
        self.service = bot.npcs
        self.talk = bot.npc_talk
        self.voice = NpcVoice(bot, self.service)
        self.cards = bot.npc_cards
        self.avatars = cards_ui.AvatarFetcher()

    async def cog_unload(self) -> None:
        await self.avatars.close()

    npc = app_commands.Group(name="npc", description="Characters that speak in the channel.", guild_only=True)

    @npc.command(name="create", description="Create an NPC (a form asks for the persona and the rest).")
    @app_commands.describe(
        name="The NPC's name, shown on its messages (1-80 characters)",
        avatar="An image for the NPC's avatar",
        avatar_url="Or a link to one (https://...)",
        tags="Comma-separated tags, e.g. 'elf, merchant'",
    )
    async def create(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 200],
        avatar: discord.Attachment | None = None,
        avatar_url: str | None = None,
        tags: str | None = None,
    ) -> None:
        in_guild(interaction)
        draft = Npc(name=check_name(name), avatar_url=avatar_of(avatar, avatar_url), tags=parse_tags(tags))

        async def submit(modal_ix: discord.Interaction, fields: dict[str, str]) -> None:
            npc = await self.service.create(actor_of(modal_ix), draft.with_changes(**fields))
            await modal_ix.response.send_message(
                f"🎭 **{quote(npc.name, 80)}** is ready. `/scene add` brings them into a channel; "
                "`/npc say` talks to them.",
                embed=card_embed(npc),
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )

        await interaction.response.send_modal(NpcForm(f"New NPC: {draft.name}", submit))

    @npc.command(name="edit", description="Edit an NPC you created (moderators: any).")
    @app_commands.describe(
        npc="Which NPC",
        new_name="A new name",
        avatar="A new avatar image",
        avatar_url="Or a link to one",
        tags="New tags",
    )
    @app_commands.autocomplete(npc=npc_names)
    async def edit(
        self,
        interaction: discord.Interaction,
        npc: str,
        new_name: app_commands.Range[str, 1, 200] | None = None,
        avatar: discord.Attachment | None = None,
        avatar_url: str | None = None,
        tags: str | None = None,
    ) -> None:
        current = await self.service.check_may_change(actor_of(interaction), npc)
        changes: dict[str, object] = {}
        if new_name is not None:
            changes["name"] = check_name(new_name)
        if avatar is not None or avatar_url is not None:
            changes["avatar_url"] = avatar_of(avatar, avatar_url)
        if tags is not None:
            changes["tags"] = parse_tags(tags)

        async def submit(modal_ix: discord.Interaction, fields: dict[str, str]) -> None:
            saved = await self.service.edit(actor_of(modal_ix), current.name, **changes, **fields)
            note = f" ({', '.join(form.left_out)} left as they were: too long for a form)" if form.left_out else ""
            await modal_ix.response.send_message(
                f"✏️ **{quote(saved.name, 80)}** updated{note}.", embed=card_embed(saved), ephemeral=True
            )

        form = NpcForm(f"Edit {current.name}", submit, current)
        await interaction.response.send_modal(form)

    @npc.command(name="delete", description="Delete an NPC you created (moderators: any), with its memory.")
    @app_commands.describe(npc="Which NPC")
    @app_commands.autocomplete(npc=npc_names)
    async def delete(self, interaction: discord.Interaction, npc: str) -> None:
        target = await self.service.check_may_change(actor_of(interaction), npc)

        async def confirm(button_ix: discord.Interaction) -> None:
            gone = await self.service.delete(actor_of(button_ix), target.name)
            await button_ix.response.edit_message(content=f"🗑️ **{quote(gone.name, 80)}** was deleted.", view=None)

        await interaction.response.send_message(
            f"Delete **{quote(target.name, 80)}**, with everything they remember? This cannot be undone.",
            view=ConfirmDelete(confirm),
            ephemeral=True,
        )

    @npc.command(name="import", description="Import a SillyTavern character card (JSON or PNG) as a new NPC.")
    @app_commands.describe(
        card="The card: a .json file, or a .png with the card inside (its image becomes the avatar)",
        name="A name to use instead of the card's",
    )
    async def import_card(
        self,
        interaction: discord.Interaction,
        card: discord.Attachment,
        name: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        in_guild(interaction)
        new_name = check_name(name) if name is not None else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        raw = await cards_ui.read_upload(card)
        result = await self.cards.import_card(actor_of(interaction), raw, avatar_url=card.url, name=new_name)
        await interaction.followup.send(
            cards_ui.imported_message(result), embed=card_embed(result.npc), ephemeral=True, allowed_mentions=NO_PINGS
        )

    @npc.command(name="export", description="Export an NPC as a SillyTavern character card file.")
    @app_commands.describe(npc="Which NPC", format="png: an image with the card inside (default); json: the card alone")
    @app_commands.autocomplete(npc=npc_names)
    async def export_card(
        self, interaction: discord.Interaction, npc: str, format: Literal["png", "json"] = "png"
    ) -> None:
        guild_id = in_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.service.get(guild_id, npc)
        avatar = await self.avatars.fetch(found.avatar_url) if format == "png" else None
        exported = await self.cards.export_card(guild_id, found.name, format, avatar)
        await interaction.followup.send(
            f"🎴 **{quote(found.name, 80)}** as a character card ({format.upper()}).",
            file=cards_ui.export_file(exported), ephemeral=True, allowed_mentions=NO_PINGS,
        )  # fmt: skip

    @npc.command(name="list", description="The NPCs of this server.")
    async def list_npcs(self, interaction: discord.Interaction) -> None:
        npcs = await self.service.for_guild(in_guild(interaction))
        if not npcs:
            await interaction.response.send_message("🎭 No NPCs yet. `/npc create` makes one.", ephemeral=True)
            return
        lines = [f"**{quote(n.name, 80)}** · {quote(n.description, 90) or '*no persona*'}" for n in npcs]
        embed = discord.Embed(title="🎭 NPCs", description=truncate("\n".join(lines), 4000))
        embed.set_footer(text=f"{len(npcs)} NPCs · /npc show for one")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @npc.command(name="show", description="An NPC's card.")
    @app_commands.describe(npc="Which NPC")
    @app_commands.autocomplete(npc=npc_names)
    async def show(self, interaction: discord.Interaction, npc: str) -> None:
        found = await self.service.get(in_guild(interaction), npc)
        await interaction.response.send_message(embed=card_embed(found), ephemeral=True, allowed_mentions=NO_PINGS)

    @npc.command(name="say", description="Say something to an NPC; they answer in the channel.")
    @app_commands.describe(npc="Who you talk to", text="What you say")
    @app_commands.autocomplete(npc=npc_names)
    async def say(self, interaction: discord.Interaction, npc: str, text: app_commands.Range[str, 1, 1500]) -> None:
        channel = speakable(interaction)
        await admit(interaction, "npcs", {"message": text})  # NPCs on here, and what is said passes the gate
        found = await self.service.get(in_guild(interaction), npc)
        speaker = interaction.user.display_name
        self.talk.rate.check(channel.id)  # refuse before anything is said or stored
        said = await self.talk.hear(channel.id, interaction.user.id, speaker, text, also=found)
        await interaction.response.send_message(
            f"💬 **{quote(speaker, 80)}** → **{quote(found.name, 80)}**: {echo(said)}"[:2000], allowed_mentions=NO_PINGS
        )
        await self.answer(channel, found, speaker)

    async def answer(self, channel: Speakable, npc: Npc, to: str | None) -> None:
        """The NPC's reply, generated and posted through the channel's webhook."""
        async with channel.typing():
            line = await self.talk.reply(npc, channel.id, to=to)
        await self.talk.posted(line, await self.voice.speak(channel, npc, line.shown))
        try:
            await self.talk.refresh_summary(npc, channel.id)  # after the line is out, so nobody waits for it
        except EngineError as exc:
            log.warning("could not refresh %s's summary in %s: %s", npc.id, channel.id, exc)
