"""Messages the bot is still writing into, remembered so that a restart can say they were cut off.

A narration or a poem streams into a message for a while, saying "still writing…"; if the bot dies
meanwhile, the message would say so forever. So each one is recorded before it is posted, its
message id as soon as Discord returns it, and the record is dropped once the message is finished.
Whatever is left at the next start was interrupted, and the cog that owns it marks it so. Knows
nothing of Discord: ids in, ids out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from storage import unfinished as repo
from storage.db import Database
from storage.unfinished import Unfinished


class Tracker:
    """One message being written: `placed` records the message (each new page replaces the last)."""

    def __init__(self, messages: UnfinishedMessages, record: Unfinished) -> None:
        self._messages = messages
        self.record = record

    async def placed(self, message_id: int) -> None:
        await self._messages.placed(self.record.id, message_id)


class UnfinishedMessages:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._now = clock
        self._writers: dict[int, asyncio.Task[object]] = {}  # record id -> the task writing that message

    @asynccontextmanager
    async def track(
        self, kind: str, ref_id: int, channel_id: int, *, message_id: int | None = None, token: str | None = None
    ) -> AsyncIterator[Tracker]:
        """Record the message for the duration of the block; the record is dropped when the block ends.

        If the block raises (or is cancelled at shutdown) the record stays: the message may still claim
        to be writing, and the next start looks at it. A finished message is left as it is there.
        """
        async with self._db.transaction() as conn:
            record = await repo.add(
                conn, kind=kind, ref_id=ref_id, channel_id=channel_id, message_id=message_id,
                interaction_token=token, now=self._now(),
            )  # fmt: skip
        task = asyncio.current_task()
        if task is not None:
            self._writers[record.id] = task
        try:
            yield Tracker(self, record)
        finally:
            self._writers.pop(record.id, None)
        await self.forget(record.id)

    @property
    def writing(self) -> int:
        """How many messages are being written right now (generations in flight)."""
        return sum(not task.done() for task in self._writers.values())

    async def settle(self, grace: float) -> int:
        """At shutdown: let every message being written finish within `grace` seconds, then cancel the
        rest (their records stay, for the owner to mark them interrupted). Returns how many were cancelled."""
        tasks = [task for task in self._writers.values() if not task.done()]
        if not tasks:
            return 0
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    async def placed(self, record_id: int, message_id: int) -> None:
        async with self._db.transaction() as conn:
            await repo.set_message(conn, record_id, message_id)

    async def left_over(self, *kinds: str) -> list[Unfinished]:
        async with self._db.read() as conn:
            return await repo.of_kinds(conn, kinds)

    async def forget(self, record_id: int) -> None:
        async with self._db.transaction() as conn:
            await repo.remove(conn, record_id)
