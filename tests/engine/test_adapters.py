"""Several LoRA adapters over one base model (ENGINE_ADAPTERS), picked per request by `model`.

Two tiny random (non-zero) adapters are made with peft for the default model. Greedy decoding in fp32 is
deterministic, so: each adapter changes the text, the base model's own id gives exactly the text of the
model without adapters, and requests for different adapters in flight together each get their own.
The batched backend shares one batch between adapters (peft's `adapter_names`); the continuous backend
takes them in turns. Both are checked.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.config import EngineConfig
from engine.core import Engine
from engine.protocol import RequestError, parse_chat_request
from tests.engine.helpers import assert_openai_error, chat, post, spawn_engine
from tests.support.engine_proc import EngineProcess

PROMPT = "Tell me a short fairy tale."


def make_adapter(target: Path, seed: int, modules: tuple[str, ...] = ("q_proj", "v_proj")) -> Path:
    """A rank-4 LoRA adapter for the default model with random, non-zero weights (so it changes the output)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from engine.loading import load_model

    model = load_model(EngineConfig(device="cpu")).model
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=16, target_modules=list(modules), init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("adapters")
    noir = make_adapter(root / "noir", seed=1)
    fairy = make_adapter(root / "fairy", seed=2, modules=("k_proj", "o_proj"))
    return f"noir={noir}, fairy={fairy}"


async def greedy(engine: Engine, model: str | None, max_tokens: int = 16) -> list[int]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens}
    request = parse_chat_request({**body, "temperature": 0, "model": model}, 4096)
    generation = engine.submit(engine.prepare(request), 1, "t")
    tokens: list[int] = []
    async for event in generation.seqs[0].events():
        tokens.extend(event.token_ids)
    generation.close()
    return tokens


@pytest.fixture(scope="module", params=["batched", "continuous"])
async def served(request: pytest.FixtureRequest, adapters: str) -> AsyncIterator[Engine]:
    engine = Engine(EngineConfig(device="cpu", dtype="fp32", backend=request.param, max_batch=4, adapters=adapters))
    await engine.load()
    assert engine.state == "ready", engine.error
    yield engine
    await engine.shutdown(grace=0)


async def test_each_adapter_changes_the_text_and_the_base_is_unchanged(served: Engine, fp32_engine: Engine) -> None:
    base_id = served.loaded.name
    assert served.models() == [base_id, "noir", "fairy"]
    without_adapters = await greedy(fp32_engine, None)
    base, noir, fairy = [await greedy(served, m) for m in (base_id, "noir", "fairy")]
    assert base == without_adapters  # the base model's own id picks no adapter
    assert await greedy(served, "default") == base
    assert len({tuple(base), tuple(noir), tuple(fairy)}) == 3


async def test_requests_for_different_adapters_in_flight_together(served: Engine) -> None:
    alone = {m: await greedy(served, m) for m in ("noir", "fairy", None)}
    order = ["noir", "fairy", None, "noir", None, "fairy"]
    together = await asyncio.gather(*(greedy(served, m) for m in order))
    assert together == [alone[m] for m in order]


async def test_an_unknown_model_is_refused_naming_what_is_served(served: Engine) -> None:
    with pytest.raises(RequestError) as caught:
        served.prepare(parse_chat_request({"messages": [{"role": "user", "content": "hi"}], "model": "nope"}, 64))
    assert caught.value.status == 404 and caught.value.code == "model_not_found"
    assert "noir" in caught.value.message and "fairy" in caught.value.message


# --- through the real engine process -------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_adapters(engine_factory, adapters: str) -> EngineProcess:
    return engine_factory(adapters=adapters)


async def test_models_lists_the_adapters_and_a_request_picks_one(with_adapters, http) -> None:
    async with http.get(f"{with_adapters.url}/v1/models") as response:
        ids = [m["id"] for m in (await response.json())["data"]]
    assert ids[1:] == ["noir", "fairy"]
    texts = {}
    for model in ids:
        reply = await post(http, with_adapters, {**chat(PROMPT, temperature=0, max_tokens=12), "model": model})
        assert reply.status == 200, reply.text
        assert reply.json()["model"] == model
        texts[model] = reply.json()["choices"][0]["message"]["content"]
    assert len(set(texts.values())) == 3
    missing = await post(http, with_adapters, {**chat(max_tokens=1), "model": "nope"})
    error = assert_openai_error(missing, 404, param="model", code="model_not_found")
    assert "noir" in error["message"]


def test_a_bad_adapter_path_stops_the_engine_before_the_model_loads(tmp_path: Path) -> None:
    proc = spawn_engine(tmp_path, adapters=f"good={tmp_path}, bad={tmp_path / 'missing'}")
    try:
        assert proc.proc.wait(timeout=120) == 1
    except subprocess.TimeoutExpired:
        proc.stop()
        raise
    log = proc.log()
    assert "ENGINE_ADAPTERS good=" in log and "no adapter_config.json" in log
    assert "loading SmolLM2" not in log  # refused before minutes of loading weights, not after
