"""The Discord client: a `commands.Bot` that receives its resources from `main()` and loads the cogs."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.engine_client import EngineClient, EngineError
from bot.errors import describe
from bot.lore import LoreService
from bot.moderation import ModerationService
from bot.poems import PoemService
from bot.rewrite import RewriteService
from bot.settings import Settings
from bot.stories import StoryService
from bot.text import echo
from bot.tokens import load_counter
from bot.unfinished import UnfinishedMessages
from storage.db import Database

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.poems", "cogs.rewrite", "cogs.stories", "cogs.lore", "cogs.admin")


class Taleweaver(commands.Bot):
    def __init__(self, *, settings: Settings, db: Database, engine: EngineClient, **options: Any) -> None:
        """`options` go to discord.py's Client (tests pass e.g. guild_ready_timeout)."""
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.settings = settings
        self.db = db
        self.engine = engine
        self.moderation = ModerationService(db)
        self.poems = PoemService(
            db,
            engine,
            drafts=settings.poem_drafts,
            draft_seconds=settings.poem_draft_seconds,
            presence_penalty=settings.poem_presence_penalty,
            frequency_penalty=settings.poem_frequency_penalty,
        )
        self.stories = StoryService(
            db,
            engine,
            self.moderation,
            prompt_budget=settings.story_prompt_tokens,
            narration_tokens=settings.narration_tokens,
            presence_penalty=settings.narration_presence_penalty,
            frequency_penalty=settings.narration_frequency_penalty,
            narration_drafts=settings.narration_drafts,
        )
        self.rewrites = RewriteService(engine, presence_penalty=settings.narration_presence_penalty)
        self.lore = LoreService(db, self.moderation)
        self.unfinished = UnfinishedMessages(db)
        self.started_at = time.monotonic()
        self.tree.on_error = self.on_app_command_error

    async def setup_hook(self) -> None:
        await self.load_tokenizer()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to the dev guild %s", len(synced), self.settings.dev_guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands (they can take up to an hour to appear)", len(synced))

    async def load_tokenizer(self) -> None:
        """Count prompt tokens with the model's own tokenizer: TOKENIZER, or what our engine reports."""
        source = self.settings.tokenizer
        if not source:
            try:
                source = (await self.engine.health()).get("tokenizer_path")
            except EngineError:
                source = None
        counter = await asyncio.to_thread(load_counter, source)
        self.stories.use_counter(counter)
        log.info("counting prompt tokens with %s", counter.name)

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    # --- the one error handler ----------------------------------------------------------------------
    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await self.report_error(interaction, error)

    async def report_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Tell the user what went wrong: the specific message for known errors, an incident id for bugs."""
        original = getattr(error, "original", error)  # CommandInvokeError wraps what the command raised
        message = describe(original)
        if message is None and isinstance(error, app_commands.CheckFailure) and str(error):
            message = str(error)
        if message is None:
            incident = uuid.uuid4().hex[:8]
            log.error("incident %s in %s", incident, _where(interaction), exc_info=original)
            message = f"Sorry, something went wrong on my side (incident `{incident}`). It has been logged."
        await send_private(interaction, f"⚠️ {message}")


async def send_private(interaction: discord.Interaction, content: str) -> None:
    """Reply only the user can see, whatever state the interaction is in. Never raises.

    Error messages often quote what the user typed, so the whole message is echoed safely.
    """
    content = echo(content)
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(content, ephemeral=True)
        elif interaction.extras.get("public_defer_pending"):
            # A public "thinking…" placeholder is waiting: replace it, or it would spin forever.
            interaction.extras["public_defer_pending"] = False
            await interaction.edit_original_response(content=content, view=None, embed=None)
        else:
            await interaction.followup.send(content, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error message in %s", _where(interaction), exc_info=True)


def _where(interaction: discord.Interaction) -> str:
    data = interaction.data or {}
    command = interaction.command.qualified_name if interaction.command else data.get("custom_id", "?")
    return f"/{command} (guild {interaction.guild_id}, channel {interaction.channel_id}, user {interaction.user.id})"
