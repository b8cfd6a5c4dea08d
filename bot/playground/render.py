"""Printing the fake Discord's messages in a terminal, as they stream.

A message is printed when it appears; edits that extend its text print only the new part (the
"still writing…" status the bot keeps at the end of a streaming message is left out), any other edit
reprints the message. Embeds, attachments and buttons follow the text; buttons are numbered for
`:click`. Ephemeral messages are shown only to the user who may see them.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from fakediscord import Channel, FakeDiscord, Message, User

# The status lines bot/streaming.py (and the vote notice in cogs/stories/runner.py) keep at the end of
# a message while the storyteller is still at work: "✍️ *still writing…*", "⏳ *waiting for …*".
STATUS = re.compile(r"(?:\A|\n\n)(?P<status>(?:✍️|⏳|🪶) ?\*[^*\n]*…\*)\s*\Z")
MENTION = re.compile(r"<(@!?|@&|#)(\d+)>|<t:(-?\d+)(?::[tTdDfFR])?>")
STALE = 60.0  # a message "still writing" for this long without a change is not waited for any more
BUTTON, LINK_STYLE = 2, 5


class Terminal:
    """stdout, plus what is on the screen: an unfinished streaming line.

    With `live` set (a person at a terminal, see bot.playground.lines.LiveLines), the screen's last line
    belongs to the input prompt: only whole lines are written out, above it, and the line still being
    streamed is kept in `partial` for the prompt to show just above the input (`live` redraws it).
    """

    def __init__(self, stream: TextIO = sys.stdout, *, color: bool = False) -> None:
        self.stream = stream
        self.color = color
        self.open_id: int | None = None  # the message whose text ends the screen, mid-line
        self.live: Callable[[], None] | None = None
        self.partial = ""
        self.last_write = time.monotonic()
        self._indent_next = False
        self._lock = threading.RLock()

    def style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color and text else text

    def write(self, text: str) -> None:
        with self._lock:
            self.last_write = time.monotonic()
            if self.live is None:
                self.stream.write(text)
                self.stream.flush()
                return
            whole, newline, self.partial = (self.partial + text).rpartition("\n")
            if newline:
                self.stream.write(whole + newline)
                self.stream.flush()
            self.live()

    def end_line(self) -> None:
        if self.open_id is not None:
            self.write("\n")
            self.open_id = None

    def line(self, text: str = "") -> None:
        with self._lock:
            self.end_line()
            self.write(text + "\n")

    def dim(self, text: str) -> None:
        self.line(self.style(text, "2"))

    def warn(self, text: str) -> None:
        self.line(self.style(text, "33"))

    def body(self, text: str) -> None:
        """Message text, indented under its header; safe to call with any slice of a stream."""
        out = []
        for i, part in enumerate(text.split("\n")):
            if i:
                out.append("\n")
                self._indent_next = True
            if part:
                out.append(("  " if self._indent_next else "") + part)
                self._indent_next = False
        self.write("".join(out))

    def start_body(self) -> None:
        self._indent_next = False


@dataclass
class Shown:
    """What the terminal shows of one message."""

    versions: tuple[int, bool] = (0, False)
    header: bool = False
    text: str = ""
    status: str = ""
    extras: tuple[str, ...] = ()
    thinking: bool = False
    changed_at: float = 0.0
    busy: bool = False


class MessagePrinter:
    """Diffs the fake's messages against what was printed, and prints the difference."""

    def __init__(self, fake: FakeDiscord, term: Terminal, files_dir: Path, viewer: Callable[[], tuple[User, Channel]]):
        self.fake = fake
        self.term = term
        self.files_dir = files_dir
        self.viewer = viewer
        self.shown: dict[int, Shown] = {}
        self.saved: dict[int, Path] = {}  # attachment id -> where it was saved
        self.last_change = time.monotonic()

    # --- watching -----------------------------------------------------------------------------------
    def poll(self) -> None:
        user, channel = self.viewer()
        for message in list(self.fake.message_by_id.values()):
            key = (len(message.history), message.deleted)
            state = self.shown.setdefault(message.id, Shown())
            if state.versions == key:
                continue
            state.versions, state.changed_at = key, time.monotonic()
            self.last_change = state.changed_at
            state.busy = message.loading or (not message.deleted and bool(STATUS.search(message.content)))
            if not (message.author.bot or message.webhook_id):
                continue  # the users' own messages: the playground echoed them already
            if message.visible_to not in (None, user.id):
                continue
            self._update(message, state, channel)

    def busy(self) -> bool:
        """The bot is still writing something (a "thinking…" response or a streaming message)."""
        now = time.monotonic()
        return any(s.busy and now - s.changed_at < STALE for s in self.shown.values())

    def _update(self, m: Message, state: Shown, channel: Channel) -> None:
        term = self.term
        if m.deleted:
            if state.header and state.text:
                term.dim(f"({m.username} deleted the message that began “{_first_line(state.text)}”)")
            return
        if m.loading:
            if not state.thinking:
                term.dim(f"{self._label(m, channel)} is thinking…")
                state.thinking = True
            return
        stable, status = self._split(m)
        if stable != state.text:
            if state.header and stable.startswith(state.text):
                delta = stable[len(state.text) :]
                if term.open_id != m.id:
                    self._header(m, channel, "continued")
                    delta = delta.lstrip("\n")
                term.body(delta)
            else:
                self._header(m, channel, "edited" if state.header else "")
                term.body(stable)
            term.open_id, state.text, state.header = m.id, stable, True
        elif status and status != state.status and state.status:  # e.g. its place in the engine's queue
            term.dim(f"{self._label(m, channel)}: {status}")
        state.status = status
        extras = tuple(self._extras(m))
        if extras != state.extras and extras:  # buttons taken away (e.g. while rewriting) need no notice
            if term.open_id != m.id:  # not right under its text: say which message this belongs to
                term.line(self._title(m, channel, "updated" if state.header else "") + ":")
                state.header = True
            term.end_line()
            for line in extras:
                term.line("  " + line)
        state.extras = extras

    def _header(self, m: Message, channel: Channel, tag: str) -> None:
        self.term.end_line()
        self.term.write(self._title(m, channel, tag) + ": ")
        self.term.start_body()
        self.term.open_id = m.id

    def _title(self, m: Message, channel: Channel, tag: str = "") -> str:
        suffix = f" ({tag})" if tag else ""
        return self.term.style(self._label(m, channel), "1;36") + self.term.style(suffix, "2")

    def _label(self, m: Message, channel: Channel) -> str:
        label = m.username or m.author.name
        if m.channel_id != channel.id:
            label += f" in #{self.fake.channels[m.channel_id].name}"
        if m.ephemeral:
            label += " (only you can see this)"
        return label

    def _split(self, m: Message) -> tuple[str, str]:
        content = self.resolve(m.content)
        found = STATUS.search(content)
        if not found:
            return content, ""
        return content[: found.start()].rstrip(" "), found.group("status")

    # --- rendering ----------------------------------------------------------------------------------
    def resolve(self, text: str) -> str:
        """Mentions and timestamps as Discord would display them."""

        def one(match: re.Match[str]) -> str:
            kind, ident, stamp = match.groups()
            if stamp is not None:
                return _when(int(stamp))
            target = int(ident)
            if kind == "#":
                ch = self.fake.channels.get(target)
                return f"#{ch.name}" if ch else "#unknown-channel"
            if kind == "@&":
                role = next((g.roles[target] for g in self.fake.guilds.values() if target in g.roles), None)
                return f"@{role.name.lstrip('@')}" if role else "@unknown-role"
            user = self.fake.users.get(target)
            return f"@{user.name}" if user else "@unknown-user"

        return MENTION.sub(one, text)

    def _extras(self, m: Message) -> list[str]:
        lines: list[str] = []
        for embed in m.embeds:
            lines += self._embed(embed)
        for attachment in m.attachments:
            path = self._save(attachment)
            lines.append(f"📎 {attachment.filename} ({_size(attachment.size)}) saved to {path}")
        lines += [self.term.style(row, "35") for row in button_rows(m)]
        return lines

    def _embed(self, embed: dict[str, Any]) -> list[str]:
        bar = self.term.style("│", "36")
        out = []
        if embed.get("title"):
            out.append(self.term.style(self.resolve(embed["title"]), "1"))
        if embed.get("description"):
            out += self.resolve(embed["description"]).split("\n")
        for f in embed.get("fields") or []:
            value = self.resolve(str(f.get("value", ""))).split("\n")
            if len(value) == 1:
                out.append(f"{self.term.style(f.get('name', ''), '1')}: {value[0]}")
            else:
                out += [self.term.style(f.get("name", ""), "1"), *(f"  {v}" for v in value)]
        if (embed.get("footer") or {}).get("text"):
            out.append(self.term.style(self.resolve(embed["footer"]["text"]), "2"))
        return [f"{bar} {line}" for line in out]

    def _save(self, attachment: Any) -> Path:
        if attachment.id not in self.saved:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", Path(attachment.filename).name).strip("._") or "file"
            path, n = self.files_dir / name, 1
            while path in self.saved.values():
                n += 1
                path = self.files_dir / f"{Path(name).stem}-{n}{Path(name).suffix}"
            path.write_bytes(attachment.data)
            self.saved[attachment.id] = path
        return self.saved[attachment.id]

    def history(self, channel: Channel, user: User) -> None:
        """Reprint a channel as the user sees it, oldest first."""
        messages = self.fake.messages(channel, as_user=user)
        if not messages:
            self.term.dim(f"(no messages in #{channel.name} yet)")
        for m in messages:
            self.term.end_line()
            name = self.term.style(self._label(m, channel), "1;36" if m.author.bot or m.webhook_id else "1")
            text = self.resolve(m.content) if not m.loading else "(thinking…)"
            self.term.write(f"{name}:" + (" " if text else ""))
            self.term.start_body()
            self.term.body(text)
            self.term.write("\n")
            for line in self._extras(m):
                self.term.line("  " + line)


def buttons(m: Message) -> list[dict[str, Any]]:
    """The message's buttons in display order (the numbers `:click` takes)."""
    return _buttons_in(m.components)


def _buttons_in(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for c in components:
            if c.get("type") == BUTTON:
                found.append(c)
            walk(c.get("components") or [])
            if isinstance(c.get("accessory"), dict):
                walk([c["accessory"]])

    walk(components)
    return found


def button_label(button: dict[str, Any]) -> str:
    emoji = (button.get("emoji") or {}).get("name") or ""
    return " ".join(p for p in (emoji, button.get("label") or "") if p)


def button_rows(m: Message) -> list[str]:
    rows, n = [], 0
    for row in m.components:
        cells = []
        for b in _buttons_in([row]):
            n += 1
            off = " (disabled)" if b.get("disabled") else ""
            link = f" → {b.get('url')}" if b.get("style") == LINK_STYLE else ""
            cells.append(f"[{n}] {button_label(b)}{off}{link}")
        if cells:
            rows.append("  ".join(cells))
    return rows


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line[:40] + ("…" if len(line) > 40 else "")


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1024 else f"{n / 1024:.1f} KB"


def _when(stamp: int) -> str:
    delta = stamp - time.time()
    if abs(delta) < 24 * 3600:
        minutes = round(abs(delta) / 60)
        span = f"{minutes} min" if minutes else f"{round(abs(delta))} s"
        return f"in {span}" if delta >= 0 else f"{span} ago"
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")
