"""The message-content intent is asked for only when NPC_MESSAGE_CONTENT is on (it is privileged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import Taleweaver
from bot.engine_client import EngineClient
from bot.settings import Settings
from storage.db import Database


@pytest.mark.parametrize("enabled", [False, True])
async def test_intent_follows_the_setting(enabled: bool, tmp_path: Path) -> None:
    async with Database.open(tmp_path / "bot.db") as db:  # a real file; the engine below is never contacted
        engine = EngineClient("http://127.0.0.1:9")
        bot = Taleweaver(settings=Settings(npc_message_content=enabled), db=db, engine=engine)
        assert bot.intents.message_content is enabled
        assert bot.intents.guilds and not bot.intents.members
