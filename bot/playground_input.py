"""Where the playground's lines come from: a script file, a pipe, or a person at a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Protocol

ANSI = re.compile(r"(\033\[[0-9;]*m)")


class LineSource(Protocol):
    interactive: bool

    async def read(self, prompt: str) -> str | None:
        """The next line, or None at the end (Ctrl-D, end of the script)."""

    def typed(self) -> str:
        """What the user has typed after the prompt so far."""

    def close(self) -> None: ...


class ScriptLines:
    interactive = False

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)

    async def read(self, prompt: str) -> str | None:
        return next(self._lines, None)

    def typed(self) -> str:
        return ""

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


class TerminalLines:
    """input() with readline (history, editing, tab completion) on a thread, one prompt at a time.

    On a thread because input() blocks; asked for one line at a time so that the prompt only appears
    once the bot has finished answering the previous line.
    """

    interactive = True

    def __init__(self, history: Path | None, complete: Callable[[str], list[str]]) -> None:
        self._loop = asyncio.get_running_loop()
        self._history = history
        self._requests: list[tuple[str, asyncio.Future[str | None]]] = []
        self._wake = threading.Condition()
        self._readline = _setup_readline(history, complete)
        threading.Thread(target=self._run, name="playground-input", daemon=True).start()

    async def read(self, prompt: str) -> str | None:
        future: asyncio.Future[str | None] = self._loop.create_future()
        with self._wake:
            self._requests.append((ANSI.sub("\001\\1\002", prompt), future))  # readline: zero-width
            self._wake.notify()
        return await future

    def typed(self) -> str:
        return self._readline.get_line_buffer() if self._readline else ""

    def close(self) -> None:
        if self._readline and self._history:
            with contextlib.suppress(OSError):
                self._history.parent.mkdir(parents=True, exist_ok=True)
                self._readline.write_history_file(self._history)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._requests:
                    self._wake.wait()
                prompt, future = self._requests.pop(0)
            try:
                line: str | None = input(prompt)
            except EOFError:
                line = None
            self._loop.call_soon_threadsafe(_resolve, future, line)
            if line is None:
                return


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


def _setup_readline(history: Path | None, complete: Callable[[str], list[str]]) -> ModuleType | None:
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input() still works
        return None
    if history is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
    readline.set_history_length(1000)
    readline.set_completer_delims(" ")
    matches: list[str] = []

    def completer(text: str, state: int) -> str | None:
        if state == 0:
            matches[:] = complete(readline.get_line_buffer()[: readline.get_endidx()])
        return matches[state] if state < len(matches) else None

    readline.set_completer(completer)
    libedit = "libedit" in (readline.__doc__ or "")  # macOS's readline speaks another binding syntax
    readline.parse_and_bind("bind ^I rl_complete" if libedit else "tab: complete")
    return readline
