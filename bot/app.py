"""The Discord client: a `commands.Bot` that receives its resources from `main()` and loads the cogs."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.http import Route

from bot.cancel import Cancellations
from bot.config import ConfigService, ConfigSnapshot, Place
from bot.errors import describe
from bot.feedback import FeedbackService
from bot.llm.client import EngineClient, EngineError
from bot.llm.tokens import load_counter
from bot.lore import LoreService
from bot.moderation import ModerationService
from bot.npcs.card_service import CardService
from bot.npcs.conversation import NpcConversation
from bot.npcs.service import NpcService
from bot.npcs.story import StoryNpcs
from bot.poems import PoemService
from bot.privacy import PrivacyService
from bot.rewrite import RewriteService
from bot.safety.automod import AutoModRules
from bot.safety.gate import SafetyGate
from bot.safety.limits import UsageLimits
from bot.settings import Settings
from bot.stories.narration import Narrator
from bot.stories.service import StoryService
from bot.text import MESSAGE_LIMIT, echo, truncate
from bot.unfinished import UnfinishedMessages
from storage.db import Database

log = logging.getLogger(__name__)

SERVER_RETRIES = 3  # more tries for a REST call Discord answered 503 (discord.py retries other 5xx itself)
RESTARTING = "🔁 Taleweaver is restarting and takes no commands right now. Try again in a minute or two."
EXTENSIONS = (
    "cogs.controls",  # first: its buttons (Cancel, Delete) are what the others put under their messages
    "cogs.feedback",
    "cogs.poems",
    "cogs.rewrite",
    "cogs.stories",
    "cogs.lore",
    "cogs.npcs",
    "cogs.admin",
    "cogs.config",
    "cogs.privacy",
    "cogs.automod",
)


class Taleweaver(commands.Bot):
    def __init__(self, *, settings: Settings, db: Database, engine: EngineClient, **options: Any) -> None:
        """`options` go to discord.py's Client (tests pass e.g. guild_ready_timeout)."""
        intents = discord.Intents.default()
        # Privileged: only with it can NPCs hear plain messages (replies to them, "Mira, ...").
        intents.message_content = settings.npc_message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.settings = settings
        self.db = db
        self.engine = engine
        self.config = ConfigService(db, engine.models)
        self.moderation = ModerationService(db, self.config)
        self.automod = AutoModRules()  # the cogs.automod extension gives it a loader
        self.gate = SafetyGate(db, output_checks=[self.automod.check])
        self.limits = UsageLimits()
        self.poems = PoemService(
            db,
            engine,
            self.gate,
            drafts=settings.poem_drafts,
            draft_seconds=settings.poem_draft_seconds,
            presence_penalty=settings.poem_presence_penalty,
            frequency_penalty=settings.poem_frequency_penalty,
        )
        self.stories = StoryService(
            db,
            self.moderation,
            prompt_budget=settings.story_prompt_tokens,
            narration_tokens=settings.narration_tokens,
            presence_penalty=settings.narration_presence_penalty,
            frequency_penalty=settings.narration_frequency_penalty,
            narration_drafts=settings.narration_drafts,
            gate=self.gate,
            settings_at=self.settings_at,
        )
        self.narrator = Narrator(self.stories, engine)
        self.rewrites = RewriteService(engine, self.gate, presence_penalty=settings.narration_presence_penalty)
        self.lore = LoreService(db, self.moderation)
        self.npcs = NpcService(db, self.moderation)
        self.npc_cards = CardService(db, self.npcs)
        self.npc_talk = NpcConversation(
            db,
            engine,
            prompt_budget=settings.story_prompt_tokens,
            line_tokens=settings.npc_line_tokens,
            gate=self.gate,
            settings_at=self.settings_at,
        )
        self.npc_story = StoryNpcs(db, self.npc_talk)  # issue 10: NPCs and characters in story rounds
        self.feedback = FeedbackService(db, self.training_consent)
        engine.route_models(self.model_adapter)
        self.unfinished = UnfinishedMessages(db)
        self.cancels = Cancellations()
        self.privacy = PrivacyService(db, self.moderation)
        self.started_at = time.monotonic()
        self.draining = False  # set on SIGTERM: new interactions are turned away politely
        self._refusals: set[asyncio.Task[None]] = set()
        self.tree.on_error = self.on_app_command_error
        self.http.request = _retrying_503(self.http.request)  # type: ignore[method-assign]

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
                source = (await self.engine.health()).tokenizer_path
            except EngineError:
                source = None
        counter = await asyncio.to_thread(load_counter, source)
        self.stories.use_counter(counter)
        self.npc_talk.use_counter(counter)
        log.info("counting prompt tokens with %s", counter.name)

    async def training_consent(self, guild_id: int) -> bool:
        """Whether the server's moderators let its feedback train the model (read when each row is written)."""
        return bool(await self.config.get(guild_id, None, "training_consent"))

    async def model_adapter(self, tenant: str) -> str | None:
        """The adapter a server's requests are written with (`/config set model_adapter`); None: the base model."""
        if not tenant.isdigit():
            return None
        return str(await self.config.get(int(tenant), None, "model_adapter")) or None

    async def settings_at(self, guild_id: int, channel_id: int) -> ConfigSnapshot:
        """The settings in a channel the bot knows only by id (a story's): a thread reads its parent's too."""
        channel = self.get_channel(channel_id)
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        is_nsfw = getattr(channel, "is_nsfw", None)  # DMs and group chats have no age restriction
        nsfw = bool(is_nsfw()) if callable(is_nsfw) else False
        return await self.config.at(Place(guild_id, channel_id, parent_id, nsfw))

    async def on_message(self, message: discord.Message) -> None:
        """The one door for message input: other bots, webhooks (NPCs included) and system messages
        stay outside. Features listen to `on_human_message`, never to `on_message`."""
        if not is_human_input(message):
            return
        self.dispatch("human_message", message)
        await self.process_commands(message)

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    # --- a graceful stop (SIGTERM) ---------------------------------------------------------------------
    async def shut_down(self, grace: float) -> None:
        """Stop taking commands, tell the cogs (story channels hear that the storyteller pauses), give the
        poems and narrations being written `grace` seconds, cancel the rest, then close.

        Cogs take part through optional `shutdown_begins()` and `shutdown_ends()` coroutines: the first
        runs before the wait, the second after it (to mark what was cancelled as interrupted).
        """
        if self.draining:
            return
        self.draining = True
        self._connection.parsers["INTERACTION_CREATE"] = self._turn_away
        log.info("shutting down: waiting up to %.0f s for %d generations", grace, self.unfinished.writing)
        await self._each_cog("shutdown_begins")
        cancelled = await self.unfinished.settle(grace)
        if cancelled:
            log.warning("cancelled %d generations that did not finish within %.0f s", cancelled, grace)
        await self._each_cog("shutdown_ends")
        await asyncio.gather(*self._refusals, return_exceptions=True)
        await self.close()

    async def _each_cog(self, hook: str) -> None:
        for cog in list(self.cogs.values()):
            method = getattr(cog, hook, None)
            if method is None:
                continue
            try:
                await method()
            except Exception:
                log.exception("%s.%s failed", type(cog).__name__, hook)

    def _turn_away(self, data: Any) -> None:
        """The gateway's INTERACTION_CREATE while draining: every new interaction gets a polite answer."""
        interaction: discord.Interaction = discord.Interaction(data=data, state=self._connection)
        task = asyncio.create_task(_answer_restarting(interaction), name=f"turn-away-{interaction.id}")
        self._refusals.add(task)
        task.add_done_callback(self._refusals.discard)

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


class ShardedTaleweaver(Taleweaver, commands.AutoShardedBot):
    """Taleweaver on several gateway connections (shards) in one process: discord.py's AutoShardedBot
    under the same bot, so every cog, service and the one database are shared by all shards."""


def make_bot(*, settings: Settings, db: Database, engine: EngineClient, **options: Any) -> Taleweaver:
    """The bot SHARD_COUNT asks for: unset, one connection; a number, that many shards; "auto", as many
    as Discord recommends (GET /gateway/bot, read by discord.py when it connects)."""
    if settings.shard_count is None:
        return Taleweaver(settings=settings, db=db, engine=engine, **options)
    shard_count = None if settings.shard_count == "auto" else settings.shard_count
    return ShardedTaleweaver(settings=settings, db=db, engine=engine, shard_count=shard_count, **options)


def _retrying_503(request: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """discord.py's REST client retries 429 and 500/502/504/524 but raises at once on 503 (Discord's
    "service unavailable", answered before the request was carried out): a narration, a turn ping or a
    vote would then be lost to a blip. Retry it a few times with backoff, as discord.py does the others.
    Uploads are not retried (discord.py closes their files)."""

    async def retrying(route: Route, **kwargs: Any) -> Any:
        for attempt in range(SERVER_RETRIES + 1):
            try:
                return await request(route, **kwargs)
            except discord.DiscordServerError as exc:
                if exc.status != 503 or attempt == SERVER_RETRIES or kwargs.get("files"):
                    raise
                log.warning("Discord answered 503 to %s %s; retrying", route.method, route.path)
                await asyncio.sleep(1 + 2 * attempt)
        raise AssertionError("unreachable")

    return retrying


async def _answer_restarting(interaction: discord.Interaction) -> None:
    try:
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            await interaction.response.send_message(RESTARTING, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not answer an interaction while shutting down", exc_info=True)


async def send_private(interaction: discord.Interaction, content: str) -> None:
    """Reply only the user can see, whatever state the interaction is in. Never raises.

    Error messages often quote what the user typed, so the whole message is echoed safely.
    """
    content = truncate(echo(content), MESSAGE_LIMIT)  # an error quoting a huge input must still arrive
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


HUMAN_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def is_human_input(message: discord.Message) -> bool:
    """Whether a message may be read as input: a person's own message, not a bot's (this one
    included), a webhook's (NPCs speak through webhooks) or Discord's system notices."""
    author = message.author
    return (
        message.webhook_id is None
        and not author.bot
        and not getattr(author, "system", False)
        and message.type in HUMAN_MESSAGE_TYPES
    )
