"""/scene add|remove|list|act, and plain messages to NPCs (replies and "Mira, ...") when the optional
message-content intent is on (NPC_MESSAGE_CONTENT=true)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Taleweaver
from bot.llm.client import EngineError
from bot.npcs.conversation import MAX_ACT_TURNS, RateLimited
from bot.npcs.model import Npc
from bot.text import InputProblem, quote
from cogs.npcs import story as story_turns
from cogs.npcs.admission import admit_message
from cogs.npcs.cog import Npcs, npc_names, speakable
from cogs.ui import NO_PINGS, actor_of, admit, answer_deferred, defer_public

log = logging.getLogger(__name__)


class Scenes(commands.Cog):
    def __init__(self, bot: Taleweaver, npcs: Npcs) -> None:
        self.bot = bot
        self.npcs = npcs
        self.talk = npcs.talk

    scene = app_commands.Group(name="scene", description="Which NPCs are present in this channel.", guild_only=True)

    @scene.command(name="add", description="Bring an NPC into this channel's scene (they greet you).")
    @app_commands.describe(npc="Who joins")
    @app_commands.autocomplete(npc=npc_names)
    async def add(self, interaction: discord.Interaction, npc: str) -> None:
        channel = speakable(interaction)
        await admit(interaction, "npcs")
        joined = await self.talk.add_to_scene(actor_of(interaction), channel.id, npc)
        await interaction.response.send_message(f"🎭 **{quote(joined.name, 80)}** enters the scene.")
        if joined.first_mes:
            line = await self.talk.greet(joined, channel.id)
            await self.talk.posted(line, await self.npcs.voice.speak(channel, joined, line.shown))

    @scene.command(name="remove", description="Send an NPC out of this channel's scene.")
    @app_commands.describe(npc="Who leaves")
    @app_commands.autocomplete(npc=npc_names)
    async def remove(self, interaction: discord.Interaction, npc: str) -> None:
        left = await self.talk.remove_from_scene(actor_of(interaction), speakable(interaction).id, npc)
        await interaction.response.send_message(f"🚪 **{quote(left.name, 80)}** leaves the scene.")

    @scene.command(name="list", description="The NPCs present in this channel.")
    async def list_scene(self, interaction: discord.Interaction) -> None:
        present = await self.talk.scene(speakable(interaction).id)
        text = (
            "🎭 Present: " + ", ".join(f"**{quote(n.name, 80)}**" for n in present)
            if present
            else "🎭 No NPC is here. `/scene add` brings one in."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @scene.command(name="pin", description="A fact an NPC never forgets in this channel (its creator or a moderator).")
    @app_commands.describe(npc="Who remembers it", fact="e.g. 'Alice owes Mira a silver coin'")
    @app_commands.autocomplete(npc=npc_names)
    async def pin(self, interaction: discord.Interaction, npc: str, fact: app_commands.Range[str, 1, 300]) -> None:
        found = await self.npcs.service.pin(actor_of(interaction), npc, speakable(interaction).id, fact)
        await interaction.response.send_message(
            f"📌 **{quote(found.name, 80)}** will remember that here.", ephemeral=True
        )

    @scene.command(name="act", description="Let the NPCs present talk among themselves for a few lines.")
    @app_commands.describe(turns=f"How many lines in all (1-{MAX_ACT_TURNS}, default 3)")
    async def act(self, interaction: discord.Interaction, turns: app_commands.Range[int, 1, MAX_ACT_TURNS] = 3) -> None:
        channel = speakable(interaction)
        await admit(interaction, "npcs")
        if not await self.talk.scene(channel.id):
            raise InputProblem("No NPC is in this channel's scene. `/scene add` brings one in.")
        await defer_public(interaction)
        spoken = 0
        async for line in self.talk.act(channel.id, turns):
            await self.talk.posted(line, await self.npcs.voice.speak(channel, line.npc, line.shown))
            spoken += bool(line.text)
        await answer_deferred(interaction, f"🎬 The scene plays out ({spoken} line{'s' if spoken != 1 else ''}).")

    # --- plain messages (needs the message-content intent) ------------------------------------------
    @commands.Cog.listener()
    async def on_human_message(self, message: discord.Message) -> None:
        """People's messages only: the bot's one door for message input (`Taleweaver.on_message`)."""
        if not self.bot.settings.npc_message_content:
            return
        if message.author.bot or message.webhook_id is not None or message.guild is None:
            return  # never answer bots or webhooks (NPCs included): no loops
        channel = message.channel
        if not isinstance(channel, discord.TextChannel | discord.Thread) or not message.content.strip():
            return
        if await story_turns.take_message(self.bot, message):  # a player's turn in an as_characters story
            return
        npc = await self._addressee(message)
        if npc is None and not await self.talk.scene(channel.id):
            return
        if await admit_message(self.bot, message) is None:  # NPCs off here, or blocked words: not heard
            return
        try:
            if npc is not None:
                self.talk.rate.check(channel.id)
            await self.talk.hear(channel.id, message.author.id, message.author.display_name, message.content, also=npc)
            if npc is not None:
                await self.npcs.answer(channel, npc, message.author.display_name)
        except (RateLimited, InputProblem) as exc:
            log.info("not answering message %s in %s: %s", message.id, channel.id, exc)
        except EngineError as exc:
            log.warning("an NPC could not answer message %s: %s", message.id, exc)

    async def _addressee(self, message: discord.Message) -> Npc | None:
        """A reply to an NPC's message reaches that NPC; else a message starting with a present NPC's name."""
        reference = message.reference
        if reference is not None and reference.message_id is not None:
            npc = await self.talk.author_of(reference.message_id)
            if npc is not None and npc.guild_id == (message.guild.id if message.guild else 0):
                return npc
        return await self.talk.addressed_in(message.channel.id, message.content)
