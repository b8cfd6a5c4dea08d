"""`make play`: Taleweaver offline — a stand-in Discord, the real engine and the real bot, in a terminal.

The stand-in is the `fakediscord` package, the loopback Discord the end-to-end tests use: the real discord.py
client connects to it, so every command, button and stream behaves as it would on Discord. The bot is
started exactly as `python -m bot` starts it (`run_bot`), engine child process included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.playground.lines import LiveLines, PipedLines, ScriptLines
from bot.playground.render import Terminal
from bot.playground.session import Playground

DESCRIPTION = """\
Taleweaver's offline playground: a stand-in Discord, the engine and the bot, in your terminal.

It builds a server "Playground" with the channels #tavern and #library, a thread side-quest, and the
users you (the owner, so moderator commands work), alice and bob; starts the bot and its engine (the
model loads in a few seconds on a CPU), and then reads your lines."""

EPILOG = """\
Slash commands are typed like in Discord; a value runs until the next name: of the command:
  /poem topic:autumn rain form:haiku
  /story start title:The Lost Key genre:mystery premise:A key is found in the snow
  /story add text:I pick up the key
Choices take their name or value (form:haiku, mode:free, choices:2), numbers are checked against the
command, users/channels/roles are written by name (@alice, #library), attachments as a file path.

Playground verbs start with a colon:
  :as NAME          act as another user (created and added to the server if new)
  :users            who is in the server, with their roles
  :role NAME        give yourself a role (created if new; -NAME takes it away; alone: list the roles),
                    e.g. to try /settings moderator-role with someone who is not the owner
  :channel [NAME]   switch to a channel (created if new); alone, list the channels
  :thread NAME      open (or switch to) a thread under the current channel
  :click N|LABEL    press a button of the latest message with buttons (they are numbered under it)
  :say TEXT         post an ordinary message
  :modal [F=VALUE]  submit the open form: :modal TEXT for one field, :modal 1=… 2=…, alone: asked
  :history          reprint the channel      :wait SECONDS   let time pass (turn timers, votes)
  :help [/COMMAND]  verbs, commands, or one command's options
  :quit             leave; Ctrl-D and Ctrl-C also shut everything down cleanly

What you see: the bot's messages as they stream (author, text, embeds, attachments, numbered
buttons); replies marked "(only you can see this)" are shown only to the user they are meant for.
Files the bot posts (an exported story) are saved under the --files folder.

With --script FILE, or with lines piped into stdin, each line runs after the bot has finished
answering the previous one, so a script is a demo: python -m bot.playground --script bot/playground/demo.txt
Lines starting with # are comments. At a terminal the input line stays at the bottom while the bot
writes above it; a line entered before the bot has finished answering waits (shown above the prompt)
and runs after.

Settings come from the environment or .env like `python -m bot` (ENGINE_URL uses a running model
server instead of starting one); DISCORD_TOKEN is not needed and not used."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.playground",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--db", type=Path, default=Path("data/playground.db"), help="the SQLite file (default: %(default)s)")
    add("--files", type=Path, help="where files the bot posts are saved (default: playground-files beside --db)")
    add("--script", type=Path, help="run the lines of this file, then quit")
    add("--settle", type=float, help="seconds without change that end an answer (default: 2 scripted, 0.8 live)")
    add("--timeout", type=float, default=180.0, help="the longest wait for one answer (default: %(default)s s)")
    add("--verbose", action="store_true", help="show every log line (the engine's included)")
    add("--no-color", action="store_true", help="plain text output (also: NO_COLOR=1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    script: list[str] | None = None
    if args.script is not None:
        try:
            script = args.script.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            print(f"Cannot read the script {args.script}: {exc.strerror}", file=sys.stderr)
            return 2
    saved_tty = _terminal_state()
    try:
        return asyncio.run(_play(args, script))
    except KeyboardInterrupt:  # Ctrl-C before the playground could take it over
        return 130
    finally:
        _restore_terminal(saved_tty)


async def _play(args: argparse.Namespace, script: list[str] | None) -> int:

    interactive = script is None and sys.stdin.isatty()
    color = sys.stdout.isatty() and not args.no_color and not os.environ.get("NO_COLOR")
    term = Terminal(sys.stdout, color=color)
    db = args.db.expanduser()
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        term.warn(f"Cannot create {db.parent}: {exc.strerror}")
        return 2
    log_path = db.with_name("playground.log")
    _configure_logging(term, log_path, args.verbose)
    term.line(term.style("Taleweaver playground", "1") + term.style(f"  (log: {log_path}; :quit to leave)", "2"))
    settle = args.settle if args.settle is not None else (0.8 if interactive else 2.0)
    playground: Playground | None = None

    def complete(line: str) -> list[str]:
        return playground.complete(line) if playground is not None else []

    if script is not None:
        source = ScriptLines(script)
    elif interactive:
        source = LiveLines(term, db.with_name(".playground_history"), complete)
    else:
        source = PipedLines()
    playground = Playground(
        term=term, source=source, db=db, files=args.files or db.with_name("playground-files"),
        settle=settle, timeout=args.timeout,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stopper(playground, term))
    code = await playground.run()
    term.line(term.style("Bye.", "2"))
    return code


def _stopper(playground: Playground, term: Terminal) -> Callable[[], None]:
    def stop() -> None:
        if playground.quit.is_set():
            term.dim("(still stopping: the engine gets a few seconds to finish)")
        playground.quit.set()

    return stop


class _ConsoleHandler(logging.Handler):
    """Problems as one short line on the terminal; the log file has the details and tracebacks."""

    def __init__(self, term: Terminal, log_path: Path, verbose: bool) -> None:
        super().__init__(logging.INFO if verbose else logging.WARNING)
        self.term, self.log_path, self.verbose = term, log_path, verbose

    def emit(self, record: logging.LogRecord) -> None:
        if not self.verbose and record.name.startswith("discord") and record.levelno < logging.ERROR:
            return  # discord.py's warnings about voice support and intents do not apply here
        try:
            first = record.getMessage().splitlines()[0] if record.getMessage() else ""
            more = f" (details in {self.log_path})" if record.exc_info else ""
            say = self.term.warn if record.levelno >= logging.WARNING else self.term.dim
            say(f"[{record.name}] {first[:300]}{more}")
        except Exception:
            self.handleError(record)


class _ProgressHandler(logging.Handler):
    """The engine supervisor's progress ("engine: loading …") as the startup lines."""

    def __init__(self, term: Terminal) -> None:
        super().__init__(logging.INFO)
        self.term = term

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno == logging.INFO and message.startswith("engine: "):
            self.term.line(f"  engine    {message.removeprefix('engine: ')}")


def _configure_logging(term: Terminal, log_path: Path, verbose: bool) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.INFO)
    to_file = logging.FileHandler(log_path, mode="w", encoding="utf-8")  # this session's log
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(to_file)
    root.addHandler(_ConsoleHandler(term, log_path, verbose))
    if not verbose:
        logging.getLogger("bot.llm.supervisor").addHandler(_ProgressHandler(term))


def _terminal_state() -> list[Any] | None:
    """The terminal's settings, to put back if we leave while the prompt has it in raw mode."""
    with contextlib.suppress(ImportError, OSError, ValueError):
        import termios

        if sys.stdin.isatty():
            return termios.tcgetattr(sys.stdin.fileno())
    return None


def _restore_terminal(state: list[Any] | None) -> None:
    if state is not None:
        with contextlib.suppress(ImportError, OSError, ValueError):
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, state)
