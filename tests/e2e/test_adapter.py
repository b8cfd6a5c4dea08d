"""A server's own storyteller, end to end: a short LoRA fine-tune on the sample data, the real engine serving
it by name (`ENGINE_ADAPTERS=style=...`), a moderator picking it with `/config set model_adapter`, and a
poem written through the loopback Discord whose engine request names the adapter in `model`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from fakediscord import FakeDiscord, FakeInteraction
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_poems import write_poem
from tests.engine.test_finetune import finetune, sample_rows, short_poems, write_jsonl
from tests.support.engine_proc import EngineProcess, start_engine


@pytest.fixture(scope="module")
def style_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same short run as tests/engine/test_finetune.py (4 steps on the sample's short poems)."""
    folder = tmp_path_factory.mktemp("style")
    train = write_jsonl(folder / "poems.jsonl", sample_rows("sft.jsonl", short_poems))
    out = folder / "adapters" / "style"
    done = finetune(
        *("--data", train, "--out", out, "--max-steps", "4", "--eval-steps", "4", "--batch-size", "2"),
        *("--max-length", "128", "--rank", "8", "--alpha", "16", "--lr", "2e-3", "--seed", "1"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def style_engine(tmp_path_factory: pytest.TempPathFactory, style_adapter: Path) -> Iterator[EngineProcess]:
    engine = start_engine(tmp_path_factory.mktemp("style-engine"), adapters=f"style={style_adapter}")
    yield engine
    engine.stop()


@pytest.fixture
def engine_url(style_engine: EngineProcess) -> str:
    return style_engine.url


async def reply(ix: FakeInteraction) -> str:
    await ix.wait_acknowledged(timeout=3)
    if ix.deferred:
        message = await ix.wait_original()
        return message.text
    data = ix.response_data or {}
    return (data.get("content") or "") + " ".join(json.dumps(e) for e in data.get("embeds") or [])


async def test_a_server_writes_with_its_chosen_adapter(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, style_adapter: Path, style_engine: EngineProcess
) -> None:
    metrics = json.loads((style_adapter / "metrics.json").read_text())
    assert metrics["validation_after"]["loss"] < metrics["validation_before"]["loss"], metrics

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{style_engine.url}/v1/models") as resp:
            served = [m["id"] for m in (await resp.json())["data"]]
    assert "style" in served

    chan, mod = world.channel, world.mod
    refused = await fake.invoke(mod, chan, "config set", key="model_adapter", value="nosuch")
    text = await reply(refused)
    assert refused.ephemeral and "nosuch" in text and "style" in text, (
        "an unknown adapter is refused, naming the served"
    )
    chosen = await fake.invoke(mod, chan, "config set", key="model_adapter", value="style")
    assert "style" in await reply(chosen)

    status = await fake.invoke(world.alice, chan, "status")
    assert "style" in await reply(status), "/status shows the server's storyteller"

    assert taleweaver.proxy is not None
    before = len(taleweaver.proxy.requests)
    _, poem = await write_poem(taleweaver, world, topic="harbour lights", form="haiku")
    sent = [json.loads(b) for b in taleweaver.proxy.requests[before:]]
    assert sent and all(body["model"] == "style" for body in sent), [b["model"] for b in sent]
    assert "harbour lights" in json.dumps(sent[0]["messages"])
    assert poem.content.startswith("**Haiku**")
