"""bot.cancel without Discord: who may cancel, and that the writer survives its own cancellation."""

from __future__ import annotations

import asyncio

import pytest

from bot.cancel import Cancellations
from bot.errors import NotAllowed, NotFound


async def test_owner_cancels_and_the_writer_goes_on_to_say_so() -> None:
    cancels = Cancellations()
    started, after = asyncio.Event(), []

    async def writer() -> str:
        scope = cancels.scope("poem", 7, owners={1})
        async with scope:
            started.set()
            await asyncio.Event().wait()  # stands for the engine stream
        after.append(scope.cancelled_by)
        await asyncio.sleep(0)  # the task is usable again: no second cancellation pending
        return "said cancelled"

    task = asyncio.create_task(writer())
    await started.wait()
    with pytest.raises(NotAllowed):
        cancels.cancel("poem", 7, user_id=2, is_moderator=False)
    assert cancels.running("poem", 7)
    cancels.cancel("poem", 7, user_id=1, is_moderator=False)
    assert await task == "said cancelled" and after == [1]
    assert not cancels.running("poem", 7)
    with pytest.raises(NotFound):
        cancels.cancel("poem", 7, user_id=1, is_moderator=False)


async def test_moderator_may_cancel_and_other_cancellations_pass_through() -> None:
    cancels = Cancellations()
    started = asyncio.Event()

    async def writer() -> None:
        async with cancels.scope("story", 3, owners={1}):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(writer())
    await started.wait()
    task.cancel()  # a shutdown, not a Cancel button: the scope must not swallow it
    with pytest.raises(asyncio.CancelledError):
        await task

    task = asyncio.create_task(writer())
    started.clear()
    await started.wait()
    cancels.cancel("story", 3, user_id=99, is_moderator=True)
    await task
    assert task.done() and not task.cancelled()
