"""bot.settings: reading the environment (and .env) into one validated Settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import TOKEN_HELP, Settings, SettingsError

ALL = (
    "DISCORD_TOKEN",
    "DEV_GUILD_ID",
    "DATABASE_PATH",
    "ENGINE_URL",
    "ENGINE_API_KEY",
    "ENGINE_REMOTE_MODEL",
    "ENGINE_TIMEOUT",
    "ENGINE_START_TIMEOUT",
    "LOG_LEVEL",
    "TOKENIZER",
    "STORY_PROMPT_TOKENS",
    "STORY_NARRATION_TOKENS",
    "NPC_LINE_TOKENS",
    "NPC_MESSAGE_CONTENT",
    "SHARD_COUNT",
)


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.discord_token is None
    assert settings.dev_guild_id is None
    assert settings.database_path == Path("data/taleweaver.db")
    assert settings.engine_url is None  # start the engine as a child process
    assert settings.engine_timeout == 180.0 and settings.engine_start_timeout == 600.0
    assert settings.log_level == "INFO"


def test_blank_values_count_as_unset() -> None:
    assert Settings.from_env(dict.fromkeys(ALL, "   ")) == Settings()


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": " abc.def.ghi ",
            "DEV_GUILD_ID": "123456789012345678",
            "DATABASE_PATH": "~/tales/t.db",
            "ENGINE_URL": "https://gpu.example:8000/",
            "ENGINE_API_KEY": "secret",
            "ENGINE_REMOTE_MODEL": "meta-llama/Llama-3.1-8B-Instruct",
            "ENGINE_TIMEOUT": "30.5",
            "ENGINE_START_TIMEOUT": "90",
            "LOG_LEVEL": "debug",
            "TOKENIZER": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "STORY_PROMPT_TOKENS": "4096",
            "STORY_NARRATION_TOKENS": "200",
            "POEM_DRAFTS": "6",
            "POEM_DRAFT_SECONDS": "20",
            "POEM_PRESENCE_PENALTY": "0.5",
            "POEM_FREQUENCY_PENALTY": "-0.5",
            "NARRATION_PRESENCE_PENALTY": "1",
            "NARRATION_FREQUENCY_PENALTY": "0",
            "NARRATION_DRAFTS": "3",
            "NPC_LINE_TOKENS": "64",
            "NPC_MESSAGE_CONTENT": "Yes",
        }
    )
    assert settings.discord_token == "abc.def.ghi"
    assert settings.dev_guild_id == 123456789012345678
    assert settings.database_path == Path.home() / "tales" / "t.db"
    assert settings.engine_url == "https://gpu.example:8000"  # trailing slash dropped
    assert settings.engine_api_key == "secret"
    assert settings.engine_model == "meta-llama/Llama-3.1-8B-Instruct"
    assert settings.engine_timeout == 30.5 and settings.engine_start_timeout == 90.0
    assert settings.log_level == "debug"
    assert settings.tokenizer == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert (settings.story_prompt_tokens, settings.narration_tokens) == (4096, 200)
    assert (settings.poem_drafts, settings.poem_draft_seconds) == (6, 20.0)
    assert (settings.poem_presence_penalty, settings.poem_frequency_penalty) == (0.5, -0.5)
    assert (settings.narration_presence_penalty, settings.narration_frequency_penalty) == (1.0, 0.0)
    assert settings.narration_drafts == 3
    assert (settings.npc_line_tokens, settings.npc_message_content) == (64, True)
    assert Settings.from_env({"NPC_MESSAGE_CONTENT": "off"}).npc_message_content is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEV_GUILD_ID", "my server"),
        ("DEV_GUILD_ID", "12.5"),
        ("ENGINE_TIMEOUT", "soon"),
        ("ENGINE_TIMEOUT", "0"),
        ("ENGINE_TIMEOUT", "-3"),
        ("ENGINE_TIMEOUT", "nan"),
        ("ENGINE_TIMEOUT", "inf"),
        ("ENGINE_START_TIMEOUT", "ten minutes"),
        ("ENGINE_START_TIMEOUT", "-1"),
        ("ENGINE_URL", "localhost:8000"),
        ("ENGINE_URL", "ftp://example.com"),
        ("STORY_PROMPT_TOKENS", "lots"),
        ("STORY_PROMPT_TOKENS", "100"),
        ("STORY_NARRATION_TOKENS", "8"),
        ("STORY_NARRATION_TOKENS", "99999"),
        ("POEM_DRAFTS", "0"),
        ("POEM_DRAFTS", "9"),
        ("POEM_DRAFTS", "four"),
        ("POEM_DRAFT_SECONDS", "0"),
        ("POEM_DRAFT_SECONDS", "nan"),
        ("POEM_PRESENCE_PENALTY", "3"),
        ("NARRATION_FREQUENCY_PENALTY", "-2.5"),
        ("NARRATION_DRAFTS", "0"),
        ("NPC_LINE_TOKENS", "4"),
        ("NPC_MESSAGE_CONTENT", "maybe"),
        ("SHARD_COUNT", "two"),
        ("SHARD_COUNT", "0"),
        ("SHARD_COUNT", "-2"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)


def test_shard_count_is_unset_a_number_or_auto() -> None:
    assert Settings.from_env({}).shard_count is None  # one gateway connection, discord.py's Bot
    assert Settings.from_env({"SHARD_COUNT": "2"}).shard_count == 2
    assert Settings.from_env({"SHARD_COUNT": " Auto "}).shard_count == "auto"


def test_reads_os_environ_and_the_dotenv_file_where_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL:
        monkeypatch.delenv(name, raising=False)  # also undoes what load_dotenv sets, after the test
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-dotenv\nDEV_GUILD_ID=42\nENGINE_URL=http://from-dotenv:1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGINE_URL", "http://from-environment:2")
    settings = Settings.from_env()
    assert settings.discord_token == "from-dotenv"
    assert settings.dev_guild_id == 42
    assert settings.engine_url == "http://from-environment:2"  # the real environment wins over .env


def test_token_help_explains_the_scopes_and_the_offline_playground() -> None:
    assert re.search(r"\bbot\s+applications\.commands\b", TOKEN_HELP)
    assert "DISCORD_TOKEN=" in TOKEN_HELP
    assert "make play" in TOKEN_HELP
    assert "https://discord.com/developers/applications" in TOKEN_HELP
