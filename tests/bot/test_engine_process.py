"""bot.engine_process.EngineSupervisor: the real engine as a child process, watched and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator

import psutil
import pytest

from bot.engine_client import EngineClient, EngineUnavailable, Sampling
from bot.engine_process import EngineStartError, EngineSupervisor
from tests.bot.conftest import wait_until

HELLO = [{"role": "user", "content": "Say hello."}]


def child_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update({f"ENGINE_{k.upper()}": v for k, v in settings.items()})
    return env


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextlib.asynccontextmanager
async def no_leftovers(supervisor: EngineSupervisor) -> AsyncIterator[EngineSupervisor]:
    """Safety net for a failing test: whatever happens, no engine process outlives it."""
    try:
        yield supervisor
    finally:
        proc = supervisor._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def ask(supervisor: EngineSupervisor) -> str:
    async with EngineClient(supervisor.url, api_key=supervisor.api_key) as client:
        return (await client.complete(HELLO, tenant="1", sampling=Sampling(max_tokens=3))).text


@pytest.fixture(scope="module")
async def supervised() -> AsyncIterator[tuple[EngineSupervisor, list[str], float]]:
    """The supervised engine, its progress lines, and how long it took to start on this machine."""
    progress: list[str] = []
    supervisor = EngineSupervisor(start_timeout=240, env=child_env(max_batch="2"), progress=progress.append)
    async with no_leftovers(supervisor):
        began = time.monotonic()
        await supervisor.start()
        yield supervisor, progress, time.monotonic() - began
        await supervisor.stop()


async def test_starts_and_reports_progress_until_ready(supervised: tuple[EngineSupervisor, list[str], float]) -> None:
    supervisor, progress, _ = supervised
    assert progress, "no progress was reported"
    assert progress[-1].startswith("ready: ")
    async with EngineClient(supervisor.url, api_key=supervisor.api_key) as client:
        health = await client.health()
    assert health["status"] == "ready"
    assert health["model"] in progress[-1]
    assert supervisor.url == f"http://127.0.0.1:{supervisor.port}"


async def test_url_and_key_work_and_the_key_is_required(supervised: tuple[EngineSupervisor, list[str], float]) -> None:
    supervisor, _, _ = supervised
    assert len(supervisor.api_key) >= 24
    assert await ask(supervisor)
    async with EngineClient(supervisor.url, connect_retries=0) as keyless:
        with pytest.raises(EngineUnavailable, match="ENGINE_API_KEY"):
            await keyless.complete(HELLO, tenant="1", sampling=Sampling(max_tokens=2))


async def test_a_killed_engine_is_restarted(supervised: tuple[EngineSupervisor, list[str], float]) -> None:
    supervisor, _, started_in = supervised
    restarts = supervisor.restart_count
    assert supervisor._proc is not None  # the child's pid is only needed here, to kill it from outside
    old_pid = supervisor._proc.pid
    os.kill(old_pid, signal.SIGKILL)
    await wait_until(lambda: _returns(gone(old_pid)), within=10, what="the killed engine to exit")

    async def restarted() -> bool:
        return supervisor.restart_count == restarts + 1

    await wait_until(restarted, within=max(120, 3 * started_in), what="the watchdog to restart the engine")
    assert supervisor._proc.pid != old_pid
    assert await ask(supervisor)  # same url and key as before the crash


async def test_a_hung_engine_is_detected_by_its_health_and_restarted(
    supervised: tuple[EngineSupervisor, list[str], float],
) -> None:
    """A stopped process (SIGSTOP) is alive but answers nothing: the health watch kills it, the watchdog
    restarts it. Without the health watch the supervisor waits on it forever."""
    supervisor, _, started_in = supervised
    restarts, kills = supervisor.restart_count, supervisor.hang_kills
    supervisor.health_interval, supervisor.health_timeout, supervisor.health_misses = 0.5, 1.0, 3
    assert supervisor._proc is not None
    hung_pid = supervisor._proc.pid
    os.kill(hung_pid, signal.SIGSTOP)
    try:
        await wait_until(lambda: _returns(gone(hung_pid)), within=60, what="the hung engine to be killed")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung_pid, signal.SIGCONT)
    assert supervisor.hang_kills == kills + 1

    async def restarted() -> bool:
        return supervisor.restart_count == restarts + 1

    supervisor.health_interval, supervisor.health_timeout = 10.0, 10.0  # the defaults: a busy box is not a hang
    await wait_until(restarted, within=max(120, 3 * started_in), what="the watchdog to restart the engine")
    assert supervisor._proc.pid != hung_pid
    assert await ask(supervisor)


async def test_stop_terminates_the_child() -> None:
    async with no_leftovers(EngineSupervisor(start_timeout=240, env=child_env())) as supervisor:
        await supervisor.start()
        assert supervisor._proc is not None
        pid = supervisor._proc.pid
        assert not gone(pid)
        await supervisor.stop()
        assert supervisor._proc.returncode is not None
        assert gone(pid)
        async with EngineClient(supervisor.url, connect_retries=0) as client:
            with pytest.raises(EngineUnavailable):
                await client.health()
        await supervisor.stop()  # stopping twice is harmless


async def test_an_engine_that_cannot_start_explains_why() -> None:
    async with no_leftovers(EngineSupervisor(start_timeout=60, env=child_env(device="abacus"))) as supervisor:
        with pytest.raises(EngineStartError) as info:
            await supervisor.start()
    assert "exited while starting" in str(info.value)
    assert "ENGINE_DEVICE" in str(info.value)  # the engine's own explanation, from its output


async def test_a_start_that_times_out_leaves_no_engine_behind() -> None:
    async with no_leftovers(EngineSupervisor(start_timeout=0.3, env=child_env())) as supervisor:
        with pytest.raises(EngineStartError, match="not ready"):
            await supervisor.start()
        assert supervisor._proc is not None
        assert supervisor._proc.returncode is not None
        assert gone(supervisor._proc.pid)


async def test_a_cancelled_start_leaves_no_engine_behind() -> None:
    async with no_leftovers(EngineSupervisor(start_timeout=240, env=child_env())) as supervisor:
        task = asyncio.create_task(supervisor.start())
        await wait_until(lambda: _returns(supervisor._proc is not None), within=10, what="the engine to be spawned")
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert supervisor._proc is not None
        pid = supervisor._proc.pid
        await wait_until(lambda: _returns(gone(pid)), within=20, what="the child to be terminated")


async def _returns(value: bool) -> bool:
    return value
