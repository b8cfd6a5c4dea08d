"""Where the playground's lines come from: a script file, a pipe, or a person at a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.patch_stdout import patch_stdout

if TYPE_CHECKING:
    from bot.playground.render import Terminal


class LineSource(Protocol):
    interactive: bool

    async def read(self, prompt: str) -> str | None:
        """The next line, or None at the end (Ctrl-D, end of the script)."""

    def close(self) -> None: ...


class ScriptLines:
    interactive = False

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)

    async def read(self, prompt: str) -> str | None:
        return next(self._lines, None)

    def close(self) -> None:
        pass


class PipedLines(ScriptLines):
    """stdin that is not a terminal, read line by line as it arrives."""

    def __init__(self) -> None:
        super().__init__(())
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

        def pump() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(self._queue.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(self._queue.put_nowait, None)

        # A daemon thread: a blocking read must not keep the process alive after :quit.
        threading.Thread(target=pump, name="playground-stdin", daemon=True).start()

    async def read(self, prompt: str) -> str | None:
        return await self._queue.get()


class LiveLines:
    """A person at a terminal, through prompt_toolkit: the input line stays at the bottom of the screen.

    The bot's messages print above it (the line still being streamed just above the prompt, whole
    lines above that), so what the user types never lands inside the bot's output. The prompt reads
    all the time: a line entered while Taleweaver is still answering is queued, with a note saying so,
    and runs once the answer is done. Ctrl-D and Ctrl-C end the session.
    """

    interactive = True

    def __init__(self, term: Terminal, history: Path | None, complete: Callable[[str], list[str]]) -> None:
        self._term = term
        self._session: PromptSession[str] = PromptSession(
            history=_history(history),
            completer=_Completer(complete),
            complete_while_typing=False,
            erase_when_done=True,  # the playground echoes each line when it runs it
        )
        self._lines: asyncio.Queue[tuple[str | None, bool]] = asyncio.Queue()  # (line, shown as queued)
        self._queued: list[str] = []  # entered while Taleweaver was still answering; shown above the prompt
        self._prompt = ""
        self._waiting = False  # the playground is ready for the next line
        self._reader: asyncio.Task[None] | None = None
        self._patch = patch_stdout(raw=True)  # output goes above the prompt, not through it
        self._patch.__enter__()
        self._stdout, term.stream = term.stream, sys.stdout

    async def read(self, prompt: str) -> str | None:
        self._prompt, self._waiting = prompt, True
        if self._reader is None:
            self._term.live = self._redraw
            self._reader = asyncio.create_task(self._read_lines(), name="playground-prompt")
        self._redraw()
        try:
            line, was_queued = await self._lines.get()
        finally:
            self._waiting = False
        if was_queued:
            self._queued.pop(0)
            self._redraw()
        return line

    def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        self._term.live = None
        if self._term.partial:  # a line still open: it belongs to the output, not the prompt
            self._term.write(self._term.partial)
            self._term.partial = ""
        self._term.end_line()
        self._patch.__exit__(None, None, None)
        self._term.stream = self._stdout

    async def _read_lines(self) -> None:
        def message() -> ANSI:
            # Above the input: the streamed line not yet finished, then the lines waiting their turn.
            above = [self._term.partial] if self._term.partial else []
            above += [self._term.style(f"(queued: {line} runs once Taleweaver has finished answering)", "2")
                      for line in self._queued]  # fmt: skip
            return ANSI("\n".join([*above, self._prompt]))

        while True:
            try:
                line: str | None = await self._session.prompt_async(message)
            except (EOFError, KeyboardInterrupt):
                line = None
            queued = line is not None and bool(line.strip()) and not self._waiting
            if queued:
                assert line is not None
                self._queued.append(line.strip() if len(line.strip()) <= 60 else line.strip()[:57] + "…")
            await self._lines.put((line, queued))
            if line is None:
                return

    def _redraw(self) -> None:
        if self._session.app.is_running:
            self._session.app.invalidate()


class _Completer(Completer):
    """prompt_toolkit's completer over the playground's own `complete(line)` (candidates for the last word)."""

    def __init__(self, complete: Callable[[str], list[str]]) -> None:
        self._complete = complete

    def get_completions(self, document: Any, complete_event: Any) -> Iterator[Completion]:
        before = document.text_before_cursor
        word = before.split(" ")[-1]
        for candidate in self._complete(before):
            yield Completion(candidate, start_position=-len(word))


def _history(path: Path | None) -> History:
    if path is None:
        return InMemoryHistory()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileHistory(str(path))
    return InMemoryHistory()
