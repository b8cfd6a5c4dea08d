"""`make play` at a real terminal: the playground on a pseudo-terminal, read back through a terminal
emulator (pyte), with the real engine and bot. What the user types while the bot streams must stay on
the input line, never inside the bot's output (issue 7, item 11)."""

from __future__ import annotations

import fcntl
import os
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest

from tests.support.engine_proc import EngineProcess

ROOT = Path(__file__).resolve().parents[2]
COLS, ROWS = 240, 400  # tall enough that nothing of the session scrolls off the emulated screen
IDLE_LIMIT_S = 90.0  # the playground printed nothing for this long: it hangs (slowness still prints)
PROMPT = "you @ #tavern › "


class Screen(pyte.Screen):
    """An emulated terminal that answers the cursor-position queries prompt_toolkit sends."""

    def __init__(self, tty: Tty) -> None:
        super().__init__(COLS, ROWS)
        self.tty = tty

    def write_process_input(self, data: str) -> None:
        os.write(self.tty.master, data.encode())


class Tty:
    """A process on a pseudo-terminal, its output fed into a `Screen`."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.master, follower = os.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=follower, stdout=follower, stderr=follower, start_new_session=True
        )
        os.close(follower)
        self.screen = Screen(self)
        self.stream = pyte.ByteStream(self.screen)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(line for line in self.lines() if line)

    def pump(self, wait: float) -> bool:
        """Feed what the process printed within `wait` seconds to the screen; False if it printed nothing."""
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the process has gone and closed its side
            return False
        self.stream.feed(data)
        return bool(data)

    def wait_for(self, check: Callable[[str], bool], what: str) -> None:
        """Until `check(screen text)` holds, for as long as the playground keeps printing."""
        quiet_since = time.monotonic()
        while not check(self.text()):
            if self.pump(0.2):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > IDLE_LIMIT_S or self.proc.poll() is not None:
                pytest.fail(f"no {what} on the screen:\n{self.text()[-3000:]}")

    def type(self, text: str, pause: float = 0.05) -> None:
        for char in text:
            os.write(self.master, char.encode())
            self.pump(pause)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.mark.timeout(900)
def test_typing_while_the_bot_streams_stays_on_the_input_line_and_is_queued(
    tmp_path: Path, engine: EngineProcess
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "NO_COLOR")}
    env.update(ENGINE_URL=engine.url, TERM="xterm-256color")
    db = tmp_path / "play.db"
    tty = Tty([sys.executable, "-m", "bot.playground", "--db", str(db), "--settle", "1"], env)
    try:
        tty.wait_for(lambda text: text.endswith(PROMPT.rstrip()), "prompt")
        tty.type("/poem topic:a long winter night by the sea form:free verse\r")
        tty.wait_for(lambda text: "Taleweaver: **Free Verse**" in text, "streaming poem")
        assert "poem #1" not in tty.text(), "the poem is still being written while the user types"
        tty.type(":users\r")  # typed while the poem streams: it waits, and says so just above the prompt
        tty.wait_for(lambda text: "(queued: :users runs once Taleweaver has finished answering)" in text, "note")
        tty.wait_for(lambda text: "← you act as this user" in text, "user list, once the poem was done")
        tty.type(":quit\r")
        tty.wait_for(lambda text: "Bye." in text, "goodbye")
        assert tty.proc.wait(60) == 0
    finally:
        tty.close()

    lines = tty.lines()
    typed = [i for i, line in enumerate(lines) if ":users" in line]
    assert [lines[i] for i in typed] == [PROMPT + ":users"], "echoed when it ran, and nowhere else"
    assert typed[0] > max(i for i, line in enumerate(lines) if "poem #1" in line), "it ran after the poem"
    with sqlite3.connect(db) as conn:
        (poem,) = conn.execute("SELECT text FROM poems").fetchone()
    # All of the poem is on the screen, in order (ignoring indentation, and the "(continued)" header the
    # printer puts where something else was printed in the middle of a message).
    screen = "".join("".join(line.replace("Taleweaver (continued):", "").split()) for line in lines)
    missing = [line for line in poem.splitlines() if "".join(line.split()) not in screen]
    assert not missing, f"lines of the poem not on the screen: {missing}\n" + "\n".join(lines[-80:])
