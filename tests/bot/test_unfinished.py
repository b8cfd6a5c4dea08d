"""bot.unfinished: a message is remembered while it is written, and only forgotten once it is finished."""

from __future__ import annotations

import asyncio

import pytest

from bot.unfinished import UnfinishedMessages
from storage.db import Database


async def test_a_finished_message_is_forgotten(db: Database) -> None:
    messages = UnfinishedMessages(db, clock=lambda: 5.0)
    async with messages.track("narration", 1, 10) as tracker:
        await tracker.placed(100)
        await tracker.placed(101)  # a second page: the last one carries the status
        [record] = await messages.left_over("narration")
        assert (record.ref_id, record.channel_id, record.message_id, record.started_at) == (1, 10, 101, 5.0)
    assert await messages.left_over("narration") == []


@pytest.mark.parametrize("stop", [RuntimeError("a bug"), asyncio.CancelledError()])
async def test_a_message_cut_off_is_left_for_the_next_start(db: Database, stop: BaseException) -> None:
    messages = UnfinishedMessages(db)
    with pytest.raises(type(stop)):
        async with messages.track("poem", 7, 70, message_id=700, token="tok"):
            raise stop
    [record] = await messages.left_over("poem", "notice")
    assert (record.kind, record.ref_id, record.message_id, record.interaction_token) == ("poem", 7, 700, "tok")
    assert await messages.left_over("narration") == []
    await messages.forget(record.id)
    assert await messages.left_over("poem") == []
