"""Streaming generated text into Discord messages, without knowing about Discord.

The renderer edits at most once per `interval` seconds (Discord rate-limits edits, and people cannot
read faster anyway); when a write itself takes more than a third of that (Discord answered 429 and
the client waited, or a 5xx was retried) the interval doubles, up to `max_interval`, so a rate-limited
stream falls back to fewer, larger edits instead of queueing up behind the limit. It splits at the
message limit into follow-up messages, and always shows whether the text is still being written or
done. Where the text goes is a `MessageSink`: the cogs provide one that edits an interaction's
response and sends follow-ups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from bot.text import MESSAGE_LIMIT, echo, split_message

WRITING = "✍️ *still writing…*"
STATUS_ROOM = 160  # kept free on every page, so page breaks do not move when the status line changes
WAITING = "⏳ *waiting for the storyteller…*"
BUSY = "⏳ *the storyteller is busy: "  # then the place in line (and the expected wait)
DRAFTING = "✍️ *drafting "  # then what is being drafted and how far along it is


class MessageSink(Protocol):
    """Where streamed text goes. `final` marks the last page's last write: the place for buttons."""

    async def send(self, content: str, *, final: bool = False) -> Any:
        """Post a new message; return a handle for `edit`."""

    async def edit(self, handle: Any, content: str, *, final: bool = False) -> None: ...

    async def delete(self, handle: Any) -> None:
        """Remove a page the text no longer reaches (never the first)."""


class StreamRenderer:
    def __init__(
        self,
        sink: MessageSink,
        *,
        header: str = "",
        interval: float = 1.0,
        max_interval: float = 8.0,
        limit: int = MESSAGE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._header = header
        self._interval = interval
        self._max_interval = max(interval, max_interval)
        self._limit = limit
        self._clock = clock
        self._handles: list[Any] = []
        self._shown: list[str] = []
        self._last = float("-inf")
        self._status = WAITING
        self.text = ""

    @property
    def interval(self) -> float:
        """The current time between edits (it grows while Discord is slow to take them)."""
        return self._interval

    @property
    def handles(self) -> list[Any]:
        return list(self._handles)

    async def start(self) -> None:
        """Show the waiting status now (and the sink's working view, e.g. a Cancel button)."""
        await self._render(force=True)

    async def queued(self, position: int, eta: float | None = None) -> None:
        """Show the place in line (and, reported as it happens, the expected wait) until words arrive.

        A place given without an estimate comes from the moment the request was accepted: #1 then
        usually means it runs at once, so only a longer line is shown.
        """
        if self.text or position < 1 or (eta is None and position < 2):
            return
        place = "you are next in line" if position == 1 else f"you are #{position} in line"
        wait = f", about {_wait(eta)}" if eta else ""
        self._status = f"{BUSY}{place}{wait}…*"
        await self._render(force=True)

    async def update(self, text: str) -> None:
        """The whole text so far. Rendered if the last render is at least `interval` old."""
        self.text = text
        self._status = WRITING
        await self._render(force=False)

    async def progress(self, status: str) -> None:
        """Show a status line instead of text (e.g. drafts being written). Rendered at most every `interval`."""
        self._status = status
        await self._render(force=False)

    async def finish(self, text: str | None = None, note: str = "") -> list[Any]:
        """Render the final text with `note` (e.g. a truncation warning) instead of the writing status."""
        if text is not None:
            self.text = text
        self._status = note
        await self._render(force=True, final=True)
        return self.handles

    async def _render(self, *, force: bool, final: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        await self._write(final)
        took = self._clock() - now
        if took * 3 > self._interval:  # Discord held the write (rate limit, retried error): edit less often
            self._interval = min(self._max_interval, self._interval * 2)

    async def _write(self, final: bool) -> None:
        pages = self.pages()
        # The text can shrink (cleaning drops a loop or a line spoken for a player, a cut ends at a
        # sentence): pages it no longer reaches go, or they would stay behind as stray fragments.
        while len(self._handles) > len(pages):
            self._shown.pop()
            await self._sink.delete(self._handles.pop())
        for index, content in enumerate(pages):
            last = final and index == len(pages) - 1
            if index >= len(self._handles):
                self._handles.append(await self._sink.send(content, final=last))
                self._shown.append(content)
            elif self._shown[index] != content or last:
                await self._sink.edit(self._handles[index], content, final=last)
                self._shown[index] = content

    def pages(self) -> list[str]:
        """The messages as they should look now: header + text split at the limit, status on the last."""
        status = f"\n\n{self._status[: STATUS_ROOM - 2]}" if self._status else ""
        body = echo(self._header + self.text)
        pages = split_message(body, self._limit - STATUS_ROOM) or [""]
        pages[-1] = (pages[-1].rstrip() + status).strip() or "…"
        return pages


def interrupted(content: str, note: str) -> str | None:
    """`content` with its "still writing" (or waiting) status replaced by `note`.

    None if the message claims no unfinished work: it was finished, or it is not a stream's last page.
    """
    body, _, status = content.rpartition("\n\n")
    if status not in (WRITING, WAITING) and not status.startswith((BUSY, DRAFTING)):
        return None
    return f"{body}\n\n{note}".strip()


def _wait(seconds: float) -> str:
    return f"{round(seconds)} s" if seconds < 90 else f"{round(seconds / 60)} min"
