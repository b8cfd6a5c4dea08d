"""The engine process: refusing unsafe settings, the API key, answering while loading, and SIGTERM."""

from __future__ import annotations

import asyncio
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.engine.helpers import (
    LONG_PROMPT,
    assert_openai_error,
    chat,
    engine_env,
    health,
    openai_client,
    post,
    sse_events,
    wait_for,
    wait_for_load,
)
from tests.support.engine_proc import ROOT, EngineProcess, free_port, start_engine

KEY = "s3cret-key-for-tests"


@pytest.fixture(scope="module")
def locked(engine_factory) -> EngineProcess:
    return engine_factory(api_key=KEY)


# --- settings that must stop the engine before it starts ------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "explains"),
    [
        ({"host": "0.0.0.0"}, "ENGINE_API_KEY"),
        ({"port": "eighty"}, "ENGINE_PORT"),
        ({"device": "tpu"}, "ENGINE_DEVICE"),
        ({"max_batch": "-1"}, "ENGINE_MAX_BATCH"),
        ({"request_timeout": "0"}, "ENGINE_REQUEST_TIMEOUT"),
    ],
    ids=["public-host-without-key", "port", "device", "max-batch", "timeout"],
)
def test_unsafe_or_wrong_settings_refuse_to_start(settings: dict, explains: str) -> None:
    env = engine_env(**{"port": free_port(), **settings})
    done = subprocess.run(
        [sys.executable, "-m", "engine"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert explains in done.stderr
    assert "Traceback" not in done.stderr


# --- the API key -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
async def test_requests_without_the_right_key_get_401(locked, http, headers: dict) -> None:
    reply = await post(http, locked, chat(max_tokens=1), headers=headers)
    assert_openai_error(reply, 401, code="invalid_api_key")
    async with http.get(f"{locked.url}/v1/models", headers=headers) as response:
        assert response.status == 401


async def test_the_right_key_is_served_and_health_stays_open(locked, http) -> None:
    for scheme in ("Bearer", "bearer", "BEARER"):  # the auth scheme is case-insensitive (RFC 9110)
        reply = await post(http, locked, chat(max_tokens=1), headers={"Authorization": f"{scheme} {KEY}"})
        assert reply.status == 200, reply.text
    assert (await health(http, locked))["status"] == "ready"  # no key needed for the supervisor's probe
    async with http.get(f"{locked.url}/metrics") as response:
        assert response.status == 401


async def test_openai_client_with_a_wrong_key_raises_authentication_error(locked) -> None:
    async with openai_client(locked, api_key="wrong") as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "invalid_api_key"
    async with openai_client(locked, api_key=KEY) as client:
        reply = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=1
        )
    assert reply.choices[0].finish_reason in {"stop", "length"}


# --- loading -----------------------------------------------------------------------------------------------
# The real `python -m engine`, except that loading the model waits until a file appears: the test decides
# how long the engine stays in its loading state, instead of racing a one-second load.
HELD_LOAD = """
import sys, time
from pathlib import Path
import engine.core
release, load = Path(sys.argv[1]), engine.core.load_model
def held(*args, **kwargs):
    while not release.exists():
        time.sleep(0.05)
    return load(*args, **kwargs)
engine.core.load_model = held
from engine.__main__ import main
sys.exit(main([]))
"""


def spawn_held_engine(log_dir: Path, release: Path) -> EngineProcess:
    port = free_port()
    with open(log_dir / "engine.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", HELD_LOAD, str(release)], cwd=ROOT, env=engine_env(port=port), stdout=log, stderr=log
        )
    return EngineProcess(f"http://127.0.0.1:{port}", proc, log_dir / "engine.log")


async def test_503_with_retry_after_while_loading(tmp_path: Path, http) -> None:
    release = tmp_path / "release"
    engine = spawn_held_engine(tmp_path, release)
    try:

        async def listening() -> bool:
            assert engine.proc.poll() is None, engine.log()
            try:
                await health(http, engine)
            except aiohttp.ClientConnectionError:
                return False
            return True

        await wait_for(listening, limit=120, what="the engine to listen", interval=0.1)
        async with http.get(f"{engine.url}/health") as response:
            assert response.status == 503
            assert (await response.json())["status"] == "loading"
        reply = await post(http, engine, chat(max_tokens=1))
        error = assert_openai_error(reply, 503, code="engine_unavailable")
        assert "loading" in error["message"]
        assert int(reply.headers["Retry-After"]) >= 1
        async with openai_client(engine) as client:
            with pytest.raises(openai.InternalServerError) as caught:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 503
        async with http.get(f"{engine.url}/v1/models") as response:
            assert response.status == 200  # the name is known before the weights are

        release.touch()

        async def ready() -> bool:
            assert engine.proc.poll() is None, engine.log()
            return (await health(http, engine))["status"] == "ready"

        await wait_for(ready, limit=240, what="the engine to be ready", interval=0.1)
        assert (await post(http, engine, chat(max_tokens=2))).status == 200
    finally:
        release.touch()
        assert engine.stop() == 0


async def test_sigterm_while_loading_exits_at_once(tmp_path: Path, http) -> None:
    """A stop must not wait for a model load (which can take minutes) to finish first."""
    engine = spawn_held_engine(tmp_path, tmp_path / "never")

    async def loading() -> bool:
        assert engine.proc.poll() is None, engine.log()
        try:
            return (await health(http, engine))["status"] == "loading"
        except aiohttp.ClientConnectionError:
            return False

    try:
        await wait_for(loading, limit=120, what="the engine to be loading", interval=0.1)
        started = time.monotonic()
        engine.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(engine.proc.wait, 30) == 0
        assert time.monotonic() - started < 10
    finally:
        engine.stop()


# --- SIGTERM -----------------------------------------------------------------------------------------------
async def calibrated_grace(http, engine: EngineProcess) -> int:
    """A grace period ten times what a two-token request takes on this machine now (at least 6 s)."""
    started = time.monotonic()
    reply = await post(http, engine, chat(LONG_PROMPT, temperature=0, max_tokens=2))
    assert reply.status == 200, reply.text
    return max(6, math.ceil(10 * (time.monotonic() - started)))


@pytest.mark.timeout(1800)  # two engine starts and a calibrated grace period: slow on a busy machine
async def test_sigterm_finishes_short_requests_and_cuts_long_ones_at_the_grace_period(
    tmp_path: Path, engine: EngineProcess
) -> None:
    """In-flight requests get the grace period; what outlives it is cut with a 503 (try again later).

    Timing is relative to the machine: the signal is sent only once the short request has its first token
    (its prompt is prefilled and it is one decode step from done), the grace period is calibrated from a
    request of the same size, and the long requests ask for 3,000 tokens, which no machine decodes
    within the grace period.
    """
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:  # no clock but the test's
        await _sigterm_scenario(http, tmp_path, engine)


async def _sigterm_scenario(http: aiohttp.ClientSession, tmp_path: Path, engine: EngineProcess) -> None:
    grace = await calibrated_grace(http, engine)  # on the shared engine; the one under test is new:
    engine = start_engine(tmp_path, shutdown_grace=grace, request_timeout=3600)  # only the grace may cut
    endless = chat(LONG_PROMPT, temperature=0, max_tokens=3000)
    stream = await http.post(f"{engine.url}/v1/chat/completions", json={**endless, "stream": True})
    short = await http.post(
        f"{engine.url}/v1/chat/completions", json=chat(LONG_PROMPT, temperature=0, max_tokens=2, stream=True)
    )
    try:
        assert stream.status == 200 and short.status == 200
        whole = asyncio.create_task(post(http, engine, endless))
        await wait_for_load(http, engine, limit=30 * grace, running=3)
        short_events = sse_events(short)
        async for event in short_events:  # wait for the short request's first token, however long it takes
            if event["choices"] and event["choices"][0]["delta"].get("content"):
                break
        engine.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()

        async def stopping() -> bool:
            return (await health(http, engine))["status"] == "stopping"

        await wait_for(stopping, limit=grace, what="the engine to stop admitting")
        refused = await post(http, engine, chat(max_tokens=1))
        assert_openai_error(refused, 503, code="engine_unavailable")
        assert refused.headers["Retry-After"].isdigit()

        rest = [event async for event in short_events]  # it fits in the grace period, so it completes normally
        assert rest[-1] == "[DONE]"
        assert [e["choices"][0]["finish_reason"] for e in rest[:-1] if e["choices"]][-1] == "length"
        assert not any("error" in e for e in rest[:-1])

        events = [event async for event in sse_events(stream)]  # cut at the grace period, with an error
        assert events[-1] == "[DONE]"
        assert events[-2]["error"]["code"] == "engine_unavailable"
        cut = assert_openai_error(await whole, 503, code="engine_unavailable")
        assert "shutting down" in cut["message"]
        cut_after = time.monotonic() - signalled
        # Not before the grace period; and well before aiohttp's own 60 s shutdown timeout would end it.
        assert grace - 0.5 <= cut_after < 2 * grace + 30

        returncode = await asyncio.to_thread(engine.proc.wait, 60 + grace)
        assert returncode == 0
    finally:
        stream.close()
        short.close()
        engine.stop()
    assert "Traceback" not in engine.log()


# --- what /health tells clients ------------------------------------------------------------------------------
def test_health_describes_the_model_and_offers_its_tokenizer(engine: EngineProcess) -> None:
    info = engine.health()
    assert info["status"] == "ready"
    assert (info["model"], info["device"], info["quantization"]) == ("SmolLM2-135M-Instruct", "cpu", "none")
    assert info["context_length"] == 8192 and info["capacity"] >= 1
    # The bot budgets story prompts with this file: it must be the model's own tokenizer.
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    path = Path(info["tokenizer_path"])
    assert path.is_file() and path.name == "tokenizer.json"
    text = "The lantern never goes out. 🌙 灯笼"
    reference = AutoTokenizer.from_pretrained(str(path.parent.parent.parent / "models" / _model_dir(path)))
    assert (
        Tokenizer.from_file(str(path)).encode(text, add_special_tokens=False).ids
        == reference(text, add_special_tokens=False)["input_ids"]
    )


def _model_dir(tokenizer_file: Path) -> str:
    models = tokenizer_file.parent.parent.parent / "models"
    return next(p.name for p in models.iterdir() if p.name.startswith("SmolLM2-135M-Instruct"))


def test_a_missing_model_directory_is_named_not_mistaken_for_a_hub_id(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    env = engine_env(port=free_port(), model=str(missing))
    done = subprocess.run(
        [sys.executable, "-m", "engine"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert f"ENGINE_MODEL={missing}: no such file or directory" in done.stderr
    assert "Traceback" not in done.stderr.split("engine failed")[-1]
