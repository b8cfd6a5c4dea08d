"""The bot's settings: one typed home, read from the environment and `.env`."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv import find_dotenv, load_dotenv

TOKEN_HELP = """\
Taleweaver needs a Discord bot token to connect to Discord.

  1. Open https://discord.com/developers/applications and create an application.
  2. Under "Bot", press "Reset Token", copy the token, and put it in a file named .env here:
         DISCORD_TOKEN=your-token-here
  3. Invite the bot to your server: under "OAuth2" -> "URL Generator" tick the scopes
         bot  applications.commands
     and the bot permissions
         View Channels, Send Messages, Send Messages in Threads, Create Public Threads,
         Embed Links, Attach Files, Read Message History, Add Reactions, Manage Webhooks
     then open the generated URL and pick your server.
  4. Optional: set DEV_GUILD_ID to your server's id so slash commands update instantly there.
  5. Run `make run` again.

No Discord account at hand? `make play` runs Taleweaver offline: a local stand-in for Discord,
the engine and the bot, in your terminal.
"""


MAX_DRAFTS = 8  # the engine's most choices (`n`) in one request


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def shards(value: str | None) -> int | Literal["auto"] | None:
    """SHARD_COUNT: unset, "auto", or a whole number."""
    if value is None:
        return None
    if value.lower() == "auto":
        return "auto"
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"SHARD_COUNT={value!r} must be a number of shards (like 2) or auto.") from None


@dataclass(frozen=True)
class Settings:
    discord_token: str | None = None
    dev_guild_id: int | None = None
    database_path: Path = Path("data/taleweaver.db")
    engine_url: str | None = None  # None: start `python -m engine` as a child process
    engine_api_key: str | None = None
    engine_model: str | None = None  # what to ask a foreign OpenAI-compatible server for
    engine_timeout: float = 180.0
    engine_start_timeout: float = 600.0
    tokenizer: str | None = None  # the model's tokenizer for prompt budgets; default: what the engine reports
    story_prompt_tokens: int = 2048
    narration_tokens: int = 280  # the longest narrator part, in tokens
    poem_drafts: int = 4  # drafts of a poem with a checked form, written in one batched request
    poem_draft_seconds: float = 90.0  # generation time for those drafts; then the best finished one is shown
    poem_presence_penalty: float = 0.2  # light: rhymes and refrains must repeat sounds and lines
    poem_frequency_penalty: float = 0.0
    narration_drafts: int = 1  # takes a narration is chosen from (1: one take, streamed as it is written)
    narration_presence_penalty: float = 0.3  # against a narrator that repeats its prologue
    narration_frequency_penalty: float = 0.3
    npc_line_tokens: int = 90  # the longest NPC line, in tokens
    # Read plain messages so NPCs answer replies and "Mira, ..." (needs Discord's privileged
    # message-content intent switched on in the developer portal). Off: /npc say and /scene still work.
    npc_message_content: bool = False
    shutdown_grace: float = 30.0  # seconds poems and narrations get to finish on SIGTERM
    # None: one gateway connection (discord.py's Bot). A number, or "auto" (Discord's recommendation
    # from GET /gateway/bot): that many shards in this process (discord.py's AutoShardedBot).
    shard_count: int | Literal["auto"] | None = None
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.engine_url and not self.engine_url.startswith(("http://", "https://")):
            raise SettingsError(f"ENGINE_URL={self.engine_url!r} must start with http:// or https://.")
        # `0 < x < inf` also refuses "nan" (every comparison with nan is false) and "inf" (aiohttp cannot time it).
        if not (0 < self.engine_timeout < math.inf and 0 < self.engine_start_timeout < math.inf):
            raise SettingsError("ENGINE_TIMEOUT and ENGINE_START_TIMEOUT must be positive numbers of seconds.")
        if not 0 <= self.shutdown_grace < math.inf:
            raise SettingsError("SHUTDOWN_GRACE must be zero or a positive number of seconds.")
        if not 256 <= self.story_prompt_tokens <= 1_000_000:
            raise SettingsError("STORY_PROMPT_TOKENS must be at least 256.")
        if not 16 <= self.narration_tokens <= 4096:
            raise SettingsError("STORY_NARRATION_TOKENS must be between 16 and 4096.")
        if not 1 <= self.poem_drafts <= MAX_DRAFTS:
            raise SettingsError(f"POEM_DRAFTS must be between 1 and {MAX_DRAFTS} (the engine's most per request).")
        if not 1 <= self.narration_drafts <= MAX_DRAFTS:
            raise SettingsError(f"NARRATION_DRAFTS must be between 1 and {MAX_DRAFTS}.")
        if not 0 < self.poem_draft_seconds < math.inf:
            raise SettingsError("POEM_DRAFT_SECONDS must be a positive number of seconds.")
        for name, value in (
            ("POEM_PRESENCE_PENALTY", self.poem_presence_penalty),
            ("POEM_FREQUENCY_PENALTY", self.poem_frequency_penalty),
            ("NARRATION_PRESENCE_PENALTY", self.narration_presence_penalty),
            ("NARRATION_FREQUENCY_PENALTY", self.narration_frequency_penalty),
        ):
            if not -2.0 <= value <= 2.0:
                raise SettingsError(f"{name} must be between -2 and 2 (OpenAI's range; 0 turns it off).")
        if not 16 <= self.npc_line_tokens <= 1024:
            raise SettingsError("NPC_LINE_TOKENS must be between 16 and 1024.")
        if isinstance(self.shard_count, int) and not 1 <= self.shard_count <= 10_000:
            raise SettingsError("SHARD_COUNT must be a number of shards from 1 up, or auto.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        if env is None:
            load_dotenv(find_dotenv(usecwd=True), override=False)  # the .env where the bot is run, as TOKEN_HELP says
            env = dict(os.environ)

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, kind: type[int] | type[float]) -> int | float | None:
            value = text(name)
            if value is None:
                return None
            try:
                return kind(value)
            except ValueError:
                raise SettingsError(f"{name}={value!r} is not a valid {kind.__name__}.") from None

        def flag(name: str) -> bool | None:
            value = text(name)
            if value is None:
                return None
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise SettingsError(f"{name}={value!r} must be true or false.")

        values = {
            "discord_token": text("DISCORD_TOKEN"),
            "dev_guild_id": number("DEV_GUILD_ID", int),
            "database_path": Path(text("DATABASE_PATH") or cls.database_path).expanduser(),
            "engine_url": (text("ENGINE_URL") or "").rstrip("/") or None,
            "engine_api_key": text("ENGINE_API_KEY"),
            "engine_model": text("ENGINE_REMOTE_MODEL"),
            "engine_timeout": number("ENGINE_TIMEOUT", float),
            "engine_start_timeout": number("ENGINE_START_TIMEOUT", float),
            "log_level": text("LOG_LEVEL"),
            "tokenizer": text("TOKENIZER"),
            "story_prompt_tokens": number("STORY_PROMPT_TOKENS", int),
            "narration_tokens": number("STORY_NARRATION_TOKENS", int),
            "poem_drafts": number("POEM_DRAFTS", int),
            "poem_draft_seconds": number("POEM_DRAFT_SECONDS", float),
            "poem_presence_penalty": number("POEM_PRESENCE_PENALTY", float),
            "poem_frequency_penalty": number("POEM_FREQUENCY_PENALTY", float),
            "narration_drafts": number("NARRATION_DRAFTS", int),
            "narration_presence_penalty": number("NARRATION_PRESENCE_PENALTY", float),
            "narration_frequency_penalty": number("NARRATION_FREQUENCY_PENALTY", float),
            "npc_line_tokens": number("NPC_LINE_TOKENS", int),
            "npc_message_content": flag("NPC_MESSAGE_CONTENT"),
            "shutdown_grace": number("SHUTDOWN_GRACE", float),
            "shard_count": shards(text("SHARD_COUNT")),
        }
        return cls(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]
