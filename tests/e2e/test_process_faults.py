"""The bot as it is deployed: `python -m bot` in its own process, starting and supervising its own engine
(the real model), against the loopback Discord, with a real SQLite file. Faults come from outside, as
they would: the engine is SIGKILLed or SIGSTOPped, the bot gets SIGTERM (issue 14).

One bot process (and its engine) serves the whole module; the tests run in order and build on each
other's state. The engine serves one request at a time (ENGINE_MAX_BATCH=1), so a second request is
deterministically waiting in its line while the first one streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

from bot.app import RESTARTING
from bot.streaming import BUSY, WAITING, WRITING
from cogs.poems.cog import INTERRUPTED as POEM_INTERRUPTED
from cogs.stories.cog import PAUSING
from cogs.stories.runner import INTERRUPTED as NARRATION_INTERRUPTED
from fakediscord import Channel, FakeDiscord, Guild, Message, User
from tests.e2e.test_stories import NARRATOR, add, answer, start_story

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD = 900.0  # only a net for a hang: every wait below ends on an event
T = TypeVar("T")

pytestmark = pytest.mark.timeout(2400)


@dataclass
class BotProcess:
    fake: FakeDiscord
    guild: Guild
    tavern: Channel  # a story is told here
    library: Channel  # poems only
    alice: User
    bob: User
    db_path: Path
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]

    async def respawn(self) -> None:
        """Start `python -m bot` again on the same database (it starts a new engine) and wait until it is in."""
        readies = len(self.fake.dispatches_of("READY"))
        self.proc = _spawn(self.env, self.log_path)
        await self.wait(lambda: len(self.fake.dispatches_of("READY")) > readies, "the bot to identify again")
        await self.wait(lambda: (engine := self.engine()) is not None and _ready(engine), "its engine to be ready")

    def engine(self) -> psutil.Process | None:
        """The engine the bot started (its child running `-m engine`), if one is alive."""
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    if "engine" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                        return child
        return None

    async def wait(self, predicate: Callable[[], T | None], what: str, channel: Channel | None = None) -> T:
        if self.proc.poll() is not None:
            raise AssertionError(f"the bot exited with {self.proc.returncode}:\n{self.log()}")
        return await self.fake.wait_for(predicate, timeout=HANG_GUARD, channel=channel, what=what)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
async def deployed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("deployed")
    async with FakeDiscord() as fake:
        alice, bob = fake.add_user("alice"), fake.add_user("bob")
        guild = fake.add_guild("Process Guild", owner=alice)
        fake.add_member(guild, bob)
        tavern, library = fake.add_channel(guild, "tavern"), fake.add_channel(guild, "library")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINE_", "DISCORD_", "STORY_"))}
        env.update(
            FAKE_DISCORD_API=fake.api_url,
            FAKE_DISCORD_WS=fake.ws_url,
            DISCORD_TOKEN=fake.token,
            DEV_GUILD_ID=str(guild.id),
            DATABASE_PATH=str(tmp / "taleweaver.db"),
            ENGINE_MAX_BATCH="1",
            STORY_NARRATION_TOKENS="160",
            SHUTDOWN_GRACE="5",
            PYTHONUNBUFFERED="1",
        )
        log_path = tmp / "bot.log"
        proc = _spawn(env, log_path)
        handle = BotProcess(fake, guild, tavern, library, alice, bob, tmp / "taleweaver.db", log_path, env, proc)
        try:
            await handle.wait(lambda: fake.connected, "the bot to connect (after starting its engine)")
            await fake.wait_commands_synced(guild, timeout=HANG_GUARD)
            yield handle
        finally:
            engine = handle.engine()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if engine is not None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    engine.kill()


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.bot_proc"], cwd=ROOT, env=env, stdout=log, stderr=log
        )


def bot_message(fake: FakeDiscord, channel: Channel, *needles: str) -> Message | None:
    return next((m for m in fake.messages(channel) if m.author.bot and all(n in m.content for n in needles)), None)


async def test_an_engine_killed_mid_stream_fails_clearly_restarts_and_retry_works(deployed: BotProcess) -> None:
    """A poem streaming and a narration waiting in the engine's line when the engine is SIGKILLed: both say
    so, nothing is stored, the supervisor restarts the engine, and `/story retry` narrates. Then the engine
    is killed again in the middle of the narration itself, and the retry after that works too."""
    fake, tavern, library, alice = deployed.fake, deployed.tavern, deployed.library, deployed.alice
    poem_ix = await fake.invoke(alice, library, "poem", topic="a lighthouse keeper's last night", form="free verse")
    await poem_ix.wait_acknowledged(timeout=3)
    poem = await deployed.wait(lambda: bot_message(fake, library, WRITING), "the poem streaming")
    await start_story(fake, tavern, alice, [], turn_timeout="30m")
    await deployed.wait(lambda: _in_line(fake, tavern), "the opening waiting in the engine's line")

    engine = deployed.engine()
    assert engine is not None
    engine.kill()

    cut_poem = await deployed.wait(lambda: _settled(fake.message_by_id[poem.id]), "the poem to say what happened")
    assert "not available right now" in cut_poem.content and "**Regenerate**" in cut_poem.content
    assert [c.split(":")[1] for c in cut_poem.custom_ids] == ["regen", "another"]
    notice = await deployed.wait(lambda: bot_message(fake, tavern, "`/story retry`"), "the story's failure notice")
    assert "Nothing was saved" in notice.content
    assert "· 0 turns" in await answer(await fake.invoke(alice, tavern, "story status"))
    assert not [m for m in fake.all_messages() if m.author.bot and not _settled(m)], "nothing is left spinning"

    restarted = await deployed.wait(lambda: _other_engine(deployed, engine.pid), "the supervisor to restart it")
    await _retry(deployed)
    narrating = await deployed.wait(lambda: bot_message(fake, tavern, NARRATOR, WRITING), "the narration streaming")
    restarted.kill()  # the second death: in the middle of the narration itself
    await deployed.wait(
        lambda: sum("`/story retry`" in m.content for m in fake.messages(tavern)) >= 2, "the second failure notice"
    )
    assert "Nothing was saved" in fake.message_by_id[narrating.id].content
    assert "· 0 turns" in await answer(await fake.invoke(alice, tavern, "story status"))

    await deployed.wait(lambda: _other_engine(deployed, restarted.pid), "the second restart")
    await _retry(deployed)
    await deployed.wait(lambda: bot_message(fake, tavern, f"🎲 <@{alice.id}>"), "alice's turn after the narration")
    assert "· 1 turn" in await answer(await fake.invoke(alice, tavern, "story status"))


async def test_sigterm_pauses_the_stories_turns_commands_away_cancels_in_time_and_exits_0(
    deployed: BotProcess,
) -> None:
    """A poem is being written by an engine that has stopped answering (SIGSTOP) when the bot gets SIGTERM:
    the story channel hears the storyteller is pausing, a new command is answered "restarting", the poem is
    cancelled after SHUTDOWN_GRACE and says so, the turn's deadline stays stored, the engine the bot
    started is stopped, and the bot exits 0."""
    fake, tavern, library, bob = deployed.fake, deployed.tavern, deployed.library, deployed.bob
    deadline_before = _deadline(deployed.db_path)
    assert deadline_before is not None, "alice's turn has a stored deadline (turn_timeout=30m)"
    poem_ix = await fake.invoke(bob, library, "poem", topic="snow on a quiet harbour", form="free verse")
    await poem_ix.wait_acknowledged(timeout=3)
    poem = await deployed.wait(lambda: bot_message(fake, library, WRITING), "the poem streaming")
    engine = deployed.engine()
    assert engine is not None
    engine.suspend()  # the poem can no longer finish by itself: only the grace period can end it
    try:
        deployed.proc.send_signal(signal.SIGTERM)
        pause = await deployed.wait(lambda: bot_message(fake, tavern, "⏸️"), "the pause notice")
        assert pause.content == PAUSING.format(title="The Lantern Road") and not pause.pinged_users
        assert bot_message(fake, library, "⏸️") is None, "only channels with a story hear of the pause"
        refused = await fake.invoke(bob, tavern, "story status")
        await refused.wait_acknowledged(timeout=3)
        assert refused.ephemeral and refused.response_data["content"] == RESTARTING
        cut = await deployed.wait(lambda: _settled(fake.message_by_id[poem.id]), "the poem to be marked")
        assert POEM_INTERRUPTED in cut.content
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            engine.resume()
    code = await asyncio.to_thread(deployed.proc.wait, HANG_GUARD)
    assert code == 0, deployed.log()
    assert not engine.is_running() or engine.status() == psutil.STATUS_ZOMBIE, "the engine was left running"
    assert _deadline(deployed.db_path) == deadline_before
    with sqlite3.connect(deployed.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM unfinished_messages").fetchone() == (0,)


async def test_sigkill_mid_narration_then_a_restart_resumes_and_redoes_it_exactly_once(deployed: BotProcess) -> None:
    """After the SIGTERM above, the bot starts again: the story resumes where it paused. Then the bot is
    SIGKILLed while the narrator writes; after the next start the cut message says so, the narration is
    written again once, and no turn is missing or doubled."""
    fake, tavern, alice = deployed.fake, deployed.tavern, deployed.alice
    assert deployed.proc.poll() is not None, "stopped by the SIGTERM test"
    await deployed.respawn()
    assert "· 1 turn" in await answer(await fake.invoke(alice, tavern, "story status")), "the opening is kept"
    mark = max(m.id for m in fake.messages(tavern))
    await add(fake, alice, tavern, "I climb to the lamp room and light the wick.")

    def writing() -> Message | None:
        return next(
            (m for m in fake.messages(tavern) if m.id > mark and NARRATOR in m.content and WRITING in m.content), None
        )

    narrating = await deployed.wait(writing, "the narration streaming")
    engine = deployed.engine()
    deployed.proc.kill()  # SIGKILL: no shutdown code runs at all
    deployed.proc.wait()
    if engine is not None:  # the engine runs in its own session, so it outlives a SIGKILLed bot
        engine.kill()

    await deployed.respawn()
    cut = await deployed.wait(lambda: _marked(fake.message_by_id[narrating.id]), "the cut narration to say so")
    assert cut.content.startswith(NARRATOR)
    await deployed.wait(
        lambda: next(
            (m for m in fake.messages(tavern) if m.id > narrating.id and m.content.startswith(f"🎲 <@{alice.id}>")),
            None,
        ),
        "alice's turn after the narration was written again",
    )
    with sqlite3.connect(deployed.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        kinds = [row[0] for row in conn.execute("SELECT kind FROM story_turns ORDER BY seq")]
        texts = [row[0] for row in conn.execute("SELECT text FROM story_turns WHERE kind = 'player'")]
    assert kinds == ["narrator", "player", "narrator"], "one opening, alice's turn once, the narration redone once"
    assert texts == ["I climb to the lamp room and light the wick."]
    finished = [m for m in fake.messages(tavern) if m.id > narrating.id and NARRATOR in m.content and _settled(m)]
    assert len(finished) == 1, [m.content[:80] for m in finished]


# --- helpers ---------------------------------------------------------------------------------------------
def _in_line(fake: FakeDiscord, channel: Channel) -> Message | None:
    """The narrator's message, still waiting for its first words (its place in line, or just waiting)."""
    message = bot_message(fake, channel, NARRATOR)
    if message is None or WRITING in message.content:
        return None
    return message if WAITING in message.content or BUSY in message.content else None


def _marked(message: Message) -> Message | None:
    return message if NARRATION_INTERRUPTED in message.content else None


def _settled(message: Message) -> Message | None:
    spinning = WRITING in message.content or WAITING in message.content or BUSY in message.content
    return None if spinning else message


def _other_engine(deployed: BotProcess, old_pid: int) -> psutil.Process | None:
    """The engine that replaced `old_pid`, once its /health says ready."""
    engine = deployed.engine()
    return engine if engine is not None and engine.pid != old_pid and _ready(engine) else None


def _ready(engine: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error, OSError, ValueError):
        for conn in engine.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                with urllib.request.urlopen(f"http://127.0.0.1:{conn.laddr.port}/health", timeout=2) as reply:
                    return json.loads(reply.read()).get("status") == "ready"
    return False


async def _retry(deployed: BotProcess) -> None:
    assert "The narrator tries again" in await answer(
        await deployed.fake.invoke(deployed.alice, deployed.tavern, "story retry")
    )


def _deadline(db_path: Path) -> float | None:
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT deadline FROM stories WHERE phase != 'ended'").fetchone()
    return None if row is None else row[0]
