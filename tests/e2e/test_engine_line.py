"""A full engine line, end to end: the real engine with room for only two sequences waiting
(`ENGINE_MAX_QUEUE=2`), so a poem's four drafts (four sequences) can never be admitted, as when a burst of
poems fills the line (bench.load's 200 commands had 19 poems refused this way). The bot writes the poem as
one streamed draft instead, and the user gets it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_poems import poem_id, write_poem
from tests.support.engine_proc import EngineProcess, start_engine


@pytest.fixture(scope="module")
def narrow_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    engine = start_engine(tmp_path_factory.mktemp("narrow-engine"), max_queue=2)
    yield engine
    engine.stop()


@pytest.fixture
def engine_url(narrow_engine: EngineProcess) -> str:
    return narrow_engine.url


async def test_a_poem_with_no_room_for_its_drafts_is_written_as_one(world: World, taleweaver: BotHandle) -> None:
    assert taleweaver.bot is not None and taleweaver.proxy is not None
    _, message = await write_poem(taleweaver, world, topic="a lighthouse in fog", form="haiku")
    asked = [json.loads(body).get("n", 1) for body in taleweaver.proxy.requests]
    assert asked == [4, 1], "four drafts were asked for, the engine had no room, then one"
    poem = await taleweaver.bot.poems.get(poem_id(message))
    assert poem.text and poem.text in message.content and poem.drafts == 1
    assert "busy" not in message.content, "the user is not told to come back later"
    assert message.custom_ids[:3] == [f"poem:{a}:{poem.id}" for a in ("regen", "another", "save")]
