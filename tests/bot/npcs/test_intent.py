"""The message-content intent is asked for only when NPC_MESSAGE_CONTENT is on (it is privileged)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import Taleweaver
from bot.settings import Settings


@pytest.mark.parametrize("enabled", [False, True])
async def test_intent_follows_the_setting(enabled: bool) -> None:
    nothing: Any = None  # the bot only keeps its resources until it runs
    bot = Taleweaver(settings=Settings(npc_message_content=enabled), db=nothing, engine=nothing)
    assert bot.intents.message_content is enabled
    assert bot.intents.guilds and not bot.intents.members
