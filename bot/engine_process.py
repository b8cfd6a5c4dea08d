"""Running the engine as a child process when no ENGINE_URL is given.

The engine is a separate process so that a model crash, an out-of-memory kill or a 30-second load
never blocks the Discord gateway heartbeat. The supervisor starts it on a free loopback port with a
random API key, waits for /health to say ready (reporting load progress), restarts it if it dies
(with backoff, giving up after repeated quick failures), and stops it on shutdown. An engine that
hangs instead of dying is treated as dead: one that stops answering /health (`health_misses` checks in a
row, `health_timeout` seconds each) or does not get ready again within the start timeout is killed,
and the watchdog restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import aiohttp

log = logging.getLogger(__name__)
engine_log = logging.getLogger("engine.child")  # the child's own output, one record per line

ROOT = Path(__file__).resolve().parents[1]
MAX_QUICK_RESTARTS = 5  # within QUICK_WINDOW seconds; beyond that the engine is considered broken
QUICK_WINDOW = 300.0


class EngineStartError(RuntimeError):
    """The engine could not be started; the message includes the tail of its log."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EngineSupervisor:
    def __init__(
        self,
        *,
        start_timeout: float = 600.0,
        env: dict[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.port = _free_port()
        self.api_key = secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self._start_timeout = start_timeout
        self._env = env
        self._progress = progress or (lambda msg: log.info("engine: %s", msg))
        self._proc: asyncio.subprocess.Process | None = None
        self._tail: deque[str] = deque(maxlen=40)
        self._watch: asyncio.Task[None] | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._restarts: deque[float] = deque()
        self._health_task: asyncio.Task[None] | None = None
        self._serving = False  # ready and not being restarted: the health watch applies
        self.restart_count = 0
        self.hang_kills = 0  # engines killed because they stopped answering
        self.health_interval = 10.0
        self.health_timeout = 10.0
        self.health_misses = 3

    async def __aenter__(self) -> EngineSupervisor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self._spawn()
        try:
            await self.wait_ready()
        except BaseException:
            # `async with` never calls __aexit__ when __aenter__ fails, and the child has its own session
            # (Ctrl-C does not reach it): without this, a start that times out or is cancelled orphans it.
            await asyncio.shield(self._terminate(grace=5.0))
            raise
        self._serving = True
        self._watch = asyncio.create_task(self._watchdog(), name="engine-watchdog")
        self._health_task = asyncio.create_task(self._health_watch(), name="engine-health")

    async def stop(self, grace: float = 15.0) -> None:
        self._stopping = True
        tasks = [t for t in (self._watch, self._health_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._terminate(grace)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        last = ""
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.returncode is not None:
                    raise EngineStartError(self._failure("the engine exited while starting"))
                status = await _health(session, self.url)
                if status.get("status") == "ready":
                    self._progress(f"ready: {status.get('model')} on {status.get('device')}")
                    return
                progress = str(status.get("progress") or "")
                if progress and progress != last:
                    self._progress(progress)
                    last = progress
                await asyncio.sleep(0.25)
        raise EngineStartError(self._failure(f"the engine was not ready after {self._start_timeout:.0f} s"))

    # --- internals ----------------------------------------------------------------------------------
    async def _spawn(self) -> None:
        env = dict(os.environ if self._env is None else self._env)
        env.update(
            ENGINE_HOST="127.0.0.1",
            ENGINE_PORT=str(self.port),
            ENGINE_API_KEY=self.api_key,
            PYTHONUNBUFFERED="1",
        )
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "engine",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the bot, which stops the engine in order
        )
        reader = asyncio.create_task(self._read_output(self._proc))
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)

    async def _read_output(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line and "it/s]" not in line:  # skip progress bars
                self._tail.append(line)
                engine_log.info("%s", line)

    async def _watchdog(self) -> None:
        while not self._stopping:
            assert self._proc is not None
            code = await self._proc.wait()
            if self._stopping:
                return
            now = time.monotonic()
            self._restarts.append(now)
            while self._restarts and now - self._restarts[0] > QUICK_WINDOW:
                self._restarts.popleft()
            if len(self._restarts) > MAX_QUICK_RESTARTS:
                log.error(
                    "engine died %d times in %.0f s; not restarting. Last output:\n%s",
                    len(self._restarts),
                    QUICK_WINDOW,
                    "\n".join(self._tail),
                )
                return
            delay = min(30.0, 2.0 ** (len(self._restarts) - 1))
            self._serving = False
            log.warning("engine exited with %s; restarting in %.0f s", code, delay)
            await asyncio.sleep(delay)
            try:
                await self._spawn()
                await self.wait_ready()
                self.restart_count += 1
                self._serving = True
            except EngineStartError as exc:
                log.error("engine restart failed: %s", exc)
                self._kill()  # one that hangs while starting would otherwise be waited for forever

    async def _health_watch(self) -> None:
        """Kill an engine that is alive but no longer answers /health; the watchdog then restarts it."""
        misses = 0
        async with aiohttp.ClientSession() as session:
            while not self._stopping:
                await asyncio.sleep(self.health_interval)
                if not self._serving or self._proc is None or self._proc.returncode is not None:
                    misses = 0
                    continue
                misses = 0 if await _health(session, self.url, self.health_timeout) else misses + 1
                if misses >= self.health_misses:
                    log.error(
                        "the engine did not answer /health %d times in a row (%.0f s each); killing it to restart it",
                        misses,
                        self.health_timeout,
                    )
                    self.hang_kills += 1
                    self._serving, misses = False, 0
                    self._kill()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    async def _terminate(self, grace: float) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    def _failure(self, what: str) -> str:
        tail = "\n".join(list(self._tail)[-15:])
        return f"{what}. Its last output:\n{tail}" if tail else what


async def _health(session: aiohttp.ClientSession, url: str, timeout: float = 5.0) -> dict:  # noqa: ASYNC109 (aiohttp's own timeout)
    try:
        async with session.get(f"{url}/health", timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            return dict(await resp.json(content_type=None))
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return {}
