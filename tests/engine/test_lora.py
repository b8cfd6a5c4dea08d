"""Serving a LoRA adapter on top of the default model (ENGINE_ADAPTER)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.engine.helpers import chat, health, post, spawn_engine
from tests.support.engine_proc import EngineProcess

GREEDY = chat("Tell me a short fairy tale.", temperature=0, max_tokens=12)


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random (non-identity) LoRA adapter for the default model: q_proj and v_proj, rank 4."""
    import torch
    from peft import LoraConfig, get_peft_model

    from engine.config import EngineConfig
    from engine.loading import load_model

    target = tmp_path_factory.mktemp("adapter")
    model = load_model(EngineConfig(device="cpu")).model
    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(target)
    assert (target / "adapter_config.json").is_file()
    return target


@pytest.fixture(scope="module")
def adapted(engine_factory, adapter_dir: Path) -> EngineProcess:
    return engine_factory(adapter=adapter_dir)


async def test_the_adapter_is_applied_and_served(adapted, engine, http) -> None:
    assert "applying LoRA adapter" in adapted.log()
    info = await health(http, adapted)
    assert info["status"] == "ready" and info["model"] == engine.health()["model"]
    with_adapter = await post(http, adapted, GREEDY)
    assert with_adapter.status == 200, with_adapter.text
    without = await post(http, engine, GREEDY)
    # Greedy decoding and a seeded random adapter: deterministic, and a working adapter changes the text.
    assert with_adapter.json()["choices"][0]["message"]["content"] != without.json()["choices"][0]["message"]["content"]


async def test_adapter_engine_streams(adapted, http) -> None:
    body = chat("Say hi.", max_tokens=6, stream=True)
    async with http.post(f"{adapted.url}/v1/chat/completions", json=body) as response:
        assert response.status == 200
        assert (await response.text()).rstrip().endswith("data: [DONE]")


def test_a_directory_that_is_not_an_adapter_stops_the_engine(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = spawn_engine(tmp_path, adapter=tmp_path / "empty")
    try:
        assert proc.proc.wait(timeout=120) == 1
    except subprocess.TimeoutExpired:
        proc.stop()
        raise
    assert "adapter_config.json" in proc.log()
