"""One playground session: the fake Discord's world, the real bot on it, and the read–act–print loop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.app import Taleweaver
from bot.llm.client import EngineError
from bot.llm.supervisor import EngineStartError
from bot.llm.types import EngineHealth
from bot.playground.commands import (
    InputError,
    command_help,
    command_list,
    completions,
    form_fields,
    form_values,
    label_matches,
    moderators_only,
    parse_slash,
)
from bot.playground.lines import LineSource
from bot.playground.render import MessagePrinter, Terminal, button_label, buttons
from bot.playground.world import World
from bot.run import run_bot
from bot.settings import Settings, SettingsError
from fakediscord import Channel, FakeDiscord, FakeInteraction, FakeUsageError, User
from storage.db import StorageError

log = logging.getLogger(__name__)

VERBS = [
    ":as", ":users", ":role", ":channel", ":thread", ":click", ":say", ":modal", ":history", ":wait", ":help", ":quit",
]  # fmt: skip
VERB_HELP = """\
Slash commands are typed like in Discord, options as name:value (a value runs until the next name:):
  /poem topic:autumn rain form:haiku          /story add text:I pick up the key
  :help /story start   shows a command's options; Tab completes commands and options.
Playground verbs:
  :as NAME          act as another user (created and added to the server if new)
  :users            who is in the server, with their roles
  :role NAME        give yourself a role (created if new; e.g. for /settings moderator-role);
                    :role -NAME takes it away; :role alone lists the roles
  :channel [NAME]   switch to a channel (created if new); without a name, list them
  :thread NAME      open (or switch to) a thread under the current channel
  :click N | LABEL  press button N (or the one labelled LABEL) under the latest message with buttons
  :say TEXT         post an ordinary message
  :modal [F=VALUE]  fill in and submit the open form (:modal TEXT for a one-field form; alone: ask)
  :history          reprint this channel as you see it
  :wait SECONDS     let time pass (turn timers, votes)
  :quit             leave (or Ctrl-D, Ctrl-C)"""


class Playground:
    def __init__(self, *, term: Terminal, source: LineSource, db: Path, files: Path, settle: float, timeout: float):
        self.term, self.source, self.db = term, source, db
        self.settle_s, self.timeout_s = settle, timeout
        self.fake = FakeDiscord()
        self.printer = MessagePrinter(self.fake, term, files, lambda: (self.user, self.channel))
        self.quit = asyncio.Event()
        self.bot: Taleweaver | None = None
        self.task: asyncio.Task[None] | None = None
        self.started: list[FakeInteraction] = []  # interactions not yet answered
        self.forms: dict[int, FakeInteraction] = {}  # user id -> the interaction that opened their form
        self.world = World(self.fake)
        self.user: User = self.world.you
        self.channel: Channel = self.world.tavern

    # --- lifecycle ----------------------------------------------------------------------------------
    async def run(self) -> int:
        await self.fake.start()
        self.fake.install()
        watcher: asyncio.Task[None] | None = None
        try:
            code = await self._start_bot()
            if code is not None:
                return code
            watcher = asyncio.create_task(self._watch(), name="playground-watch")
            return await self._loop()
        finally:
            if watcher is not None:
                watcher.cancel()
            await self._shutdown()

    async def _start_bot(self) -> int | None:
        try:
            settings = dataclasses.replace(
                Settings.from_env(), discord_token=self.fake.token, database_path=self.db, dev_guild_id=None
            )
        except SettingsError as exc:
            self.term.warn(f"Taleweaver: {exc}")
            return 2
        self.term.line(f"  database  {self.db}")
        self.term.line("  discord   fake, guild Playground: #tavern, #library, thread side-quest")
        if settings.engine_url:
            self.term.line(f"  engine    at {settings.engine_url}")
        began = time.monotonic()
        self.task = asyncio.create_task(run_bot(settings, on_bot=self._got_bot, guild_ready_timeout=0.1))
        ready = asyncio.create_task(self._ready(within=settings.engine_start_timeout + 60))
        stop = asyncio.create_task(self.quit.wait())
        await asyncio.wait({self.task, ready, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not ready.done():
            ready.cancel()
            return 0 if self.quit.is_set() else self._bot_failed("could not start")
        if ready.exception() is not None:
            self.term.warn(f"Taleweaver did not get ready: {str(ready.exception()).splitlines()[0]}")
            return 1
        names = " ".join(c.split()[0] for c in command_list(self.fake, self.channel))
        self.term.line(f"  bot       ready in {time.monotonic() - began:.1f} s: {names}")
        await self._mention_open_stories()
        self.term.line(f"\nYou are {self.user.name}, the owner of the server Playground, in #{self.channel.name}.")
        self.term.dim("Try /poem topic:autumn rain form:haiku, then :click Save. :help lists everything.")
        return None

    async def _mention_open_stories(self) -> None:
        """Stories outlive a session (the database does), but their messages and buttons do not."""
        assert self.bot is not None
        for story in await self.bot.stories.open_stories():
            channel = self.fake.channels.get(story.channel_id)
            if channel is not None:
                self.term.dim(
                    f"  story     “{story.title}” from an earlier session is still open in #{channel.name} "
                    f"({story.phase}): /story status shows it, /story end ends it."
                )

    async def _ready(self, *, within: float) -> None:
        def ready() -> bool:
            return self.bot is not None and self.bot.is_ready() and None in self.fake.commands.synced

        await self.fake.wait_for(ready, within, what="the bot to connect and sync its commands")

    def _got_bot(self, bot: Taleweaver) -> None:
        self.bot = bot

    def _bot_failed(self, what: str) -> int:
        assert self.task is not None
        error = None if self.task.cancelled() else self.task.exception()
        if isinstance(error, EngineStartError | StorageError):
            log.info("Taleweaver %s (in full): %s", what, error)  # the terminal gets the short version
            lines = str(error).splitlines()
            if len(lines) > 4:  # the engine's output ends with what went wrong; the log has all of it
                lines = [lines[0], "  …", *lines[-2:], "(the whole output is in the log)"]
            self.term.warn(f"Taleweaver {what}: " + "\n".join(lines))
        elif error is not None:
            log.error("the bot stopped", exc_info=error)
            self.term.warn(f"Taleweaver {what}: {type(error).__name__}: {error} (details in the log)")
        else:
            self.term.warn(f"Taleweaver {what}: the bot stopped.")
        return 1

    async def _shutdown(self) -> None:
        self.term.end_line()
        if self.task is not None and not self.task.done():
            self.term.dim("Stopping the bot and the engine…")
            if self.bot is not None and self.bot.is_ready():
                with contextlib.suppress(TimeoutError):  # run_bot then releases the engine and the database
                    await asyncio.wait_for(self.bot.close(), 30)
            if not self.task.done():
                self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.task), 60)
            if self.task.done() and not self.task.cancelled() and self.task.exception():
                log.error("the bot stopped with an error", exc_info=self.task.exception())
        self.fake.uninstall()
        await self.fake.stop()
        self.source.close()

    # --- the loop -----------------------------------------------------------------------------------
    async def _loop(self) -> int:
        while not self.quit.is_set():
            line = await self._next_line(self._prompt())
            if self.task is not None and self.task.done():
                return self._bot_failed("stopped")
            if line is None:
                return 0
            line = line.strip()
            if line:  # a script's line, or a typed one (the prompt is erased when a line is entered)
                shown = line if len(line) <= 300 else f"{line[:200]}… ({len(line):,} characters)"
                self.term.line(self.term.style(line, "2") if line.startswith("#") else self._prompt() + shown)
            if not line or line.startswith("#"):
                continue
            if line in (":quit", ":q", ":exit"):
                return 0
            try:
                await self._settle(await self._do(line))
            except (InputError, FakeUsageError) as exc:
                self.term.warn(f"⚠ {exc}")
            except Exception:
                log.exception("the playground failed on %r", line[:200])
                self.term.warn("⚠ The playground tripped over that line; the details are in the log.")
        return 0

    async def _next_line(self, prompt: str) -> str | None:
        self.term.end_line()
        read = asyncio.ensure_future(self.source.read(prompt))
        stop = asyncio.ensure_future(self.quit.wait())
        waiting: set[asyncio.Future[Any]] = {read, stop, *([self.task] if self.task else [])}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not read.done():
            read.cancel()
            return None
        return read.result()

    def _prompt(self) -> str:
        return self.term.style(f"{self.user.name} @ #{self.channel.name}", "1;32") + " › "

    async def _do(self, line: str) -> FakeInteraction | None:
        if line.startswith("/"):
            command = parse_slash(line, self.fake, self.channel)
            refusal = moderators_only(self.fake, self.channel, self.user, command.path)
            if refusal:
                raise InputError(refusal)
            return await self._started(self.fake.invoke(self.user, self.channel, command.path, **command.options))
        verb, _, arg = line.partition(" ")
        arg = arg.strip()
        if verb == ":as":
            self._become(arg)
        elif verb in (":users", ":who"):
            self._lines(self.world.describe_members(self.user))
        elif verb in (":role", ":roles"):
            self._lines(self.world.role_verb(self.user, arg))
        elif verb in (":channel", ":channels"):
            if arg:
                self.channel = self.world.channel(arg)
            else:
                self._lines(self.world.describe_channels(self.channel))
        elif verb == ":thread":
            self.channel = self.world.thread(arg, under=self.channel, owner=self.user)
        elif verb == ":click":
            return await self._click(arg)
        elif verb == ":say":
            if not arg:
                raise InputError("Say what? :say Hello, everyone!")
            await self.fake.post_message(self.user, self.channel, arg)
        elif verb == ":modal":
            return await self._submit_form(arg)
        elif verb == ":history":
            self.printer.history(self.channel, self.user)
        elif verb == ":wait":
            await self._wait(arg)
        elif verb == ":help":
            self._help(arg)
        else:
            verbs = " ".join(VERBS)
            raise InputError(f"Unknown playground verb {verb!r}. Verbs: {verbs}. Slash commands start with /.")
        return None

    async def _started(self, action: Any) -> FakeInteraction:
        ix: FakeInteraction = await action
        self.started.append(ix)
        return ix

    async def _settle(self, ix: FakeInteraction | None) -> None:
        """Wait until the bot has answered and nothing changed for a while (scripts go on only then)."""
        began = last_busy = time.monotonic()
        while not self.quit.is_set() and self.task is not None and not self.task.done():
            # The engine's queue counts too: a narration shows nothing until its first words arrive.
            engine_busy = await self._engine_busy()
            now = time.monotonic()
            unanswered = ix is not None and not ix.acknowledged and now - ix.created_at < 3.5
            if unanswered or engine_busy or self.printer.busy():
                last_busy = now
            elif now - max(last_busy, self.printer.last_change) >= self.settle_s:
                return
            if now - began > self.timeout_s:
                self.term.dim(f"(the bot is still busy after {self.timeout_s:.0f} s; going on)")
                return

    async def _engine_busy(self) -> bool:
        """Whether the engine is generating or has requests waiting (servers that do not say: no)."""
        began = time.monotonic()
        try:
            assert self.bot is not None
            health = await asyncio.wait_for(self.bot.engine.health(), 2.0)
        except (EngineError, TimeoutError):
            health = EngineHealth()
        await asyncio.sleep(max(0.0, 0.2 - (time.monotonic() - began)))
        return health.busy

    async def _wait(self, arg: str) -> None:
        try:
            seconds = float(arg)
        except ValueError:
            raise InputError("Wait how long? :wait 30 (seconds)") from None
        deadline = time.monotonic() + min(max(seconds, 0), 3600)
        while time.monotonic() < deadline and not self.quit.is_set():
            await asyncio.sleep(0.1)

    async def _watch(self) -> None:
        while True:
            try:
                self.printer.poll()
                self._check_interactions()
            except Exception:
                log.exception("the playground could not show an update")
            await asyncio.sleep(0.05)

    def _check_interactions(self) -> None:
        for ix in list(self.started):
            if ix.acknowledged:
                self.started.remove(ix)
                if ix.modal is not None:
                    self.forms[ix.user.id] = ix
                    self._show_form(ix)
            elif time.monotonic() - ix.created_at > 3.2:
                self.started.remove(ix)
                self.term.warn(
                    "⚠ Taleweaver did not answer within 3 s: Discord would say “The application did not respond”."
                )

    # --- verbs --------------------------------------------------------------------------------------
    def _become(self, name: str) -> None:
        user = self.world.user(name)
        if self.world.join(user):
            self.term.dim(f"({user.name} joins the server Playground)")
        self.user = user
        self.term.dim(f"You are now {user.name}.")

    async def _click(self, arg: str) -> FakeInteraction | None:
        if not arg:
            raise InputError("Click what? :click 1, or :click Save (part of a button's label)")
        messages = [m for m in reversed(self.fake.messages(self.channel, as_user=self.user)) if buttons(m)]
        if not messages:
            raise InputError(f"No message in #{self.channel.name} has buttons yet.")
        if arg.isdigit():
            message, choices = messages[0], buttons(messages[0])
            if not 1 <= int(arg) <= len(choices):
                raise InputError(f"The latest message has buttons 1 to {len(choices)}.")
            button = choices[int(arg) - 1]
        else:
            found = next(((m, b) for m in messages for b in buttons(m) if label_matches(b, arg)), None)
            if found is None:
                labels = ", ".join(button_label(b) for b in buttons(messages[0]))
                raise InputError(f"No button labelled {arg!r}; the latest message has: {labels}.")
            message, button = found
        if "custom_id" not in button:
            self.term.line(f"  (a link: {button.get('url')})")
            return None
        return await self._started(self.fake.click(self.user, message, custom_id=button["custom_id"]))

    def _show_form(self, ix: FakeInteraction) -> None:
        assert ix.modal is not None
        self.term.line(self.term.style(f"Taleweaver opens a form: “{ix.modal.get('title', '')}”", "1;36"))
        for i, (_, label, field) in enumerate(form_fields(ix.modal), start=1):
            kind = "long text" if field.get("style") == 2 else "text"
            need = "required" if field.get("required", True) else "optional"
            limit = int(field.get("max_length") or 4000)  # Discord's own maximum when the bot sets none
            self.term.line(f"  [{i}] {label} ({kind}, {need}, up to {limit:,} characters)")
        self.term.dim("  Fill it in: :modal TEXT (one field), :modal 1=… 2=…, or :modal alone to be asked.")

    async def _submit_form(self, arg: str) -> FakeInteraction:
        ix = self.forms.get(self.user.id)
        if ix is None or ix.modal is None:
            raise InputError(f"No form is open for {self.user.name}; /story write opens one.")
        fields = form_fields(ix.modal)
        if not arg:
            if not self.source.interactive:
                raise InputError("Give the form's values: :modal TEXT or :modal 1=… 2=…")
            values = {}
            for custom_id, label, _ in fields:
                answer = await self._next_line(f"  {label} › ")
                if answer is None:
                    raise InputError("Form not sent.")
                values[custom_id] = answer
        else:
            values = form_values(fields, arg)
        submitted = await self._started(self.fake.submit_modal(self.user, ix, values))
        del self.forms[self.user.id]
        return submitted

    def _help(self, arg: str) -> None:
        if arg:
            self._lines(command_help(self.fake, self.channel, arg))
            return
        self.term.line(VERB_HELP)
        self.term.line("Slash commands (the bot's own /help explains them with examples):")
        self._lines(f"  {line}" for line in command_list(self.fake, self.channel))

    def _lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.term.line(line)

    def complete(self, line: str) -> list[str]:
        return completions(self.fake, self.channel, line, VERBS)
