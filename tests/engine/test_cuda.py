"""The GPU path: NF4 quantization (bitsandbytes) and continuous batching, streamed over HTTP.

Skipped, and reported as skipped, on machines without CUDA.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.engine.helpers import openai_client, stream_text
from tests.support.engine_proc import EngineProcess

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture(scope="module", params=["default", "random:smollm2-135m"])
def nf4(request, engine_factory) -> EngineProcess:
    settings = {"device": "cuda", "quantization": "nf4", "backend": "continuous"}
    if request.param != "default":
        settings["model"] = request.param
    return engine_factory(**settings)


async def test_nf4_streams_through_continuous_batching(nf4) -> None:
    info = nf4.health()
    assert (info["device"], info["quantization"], info["backend"]) == ("cuda", "nf4", "continuous")
    async with openai_client(nf4) as client:
        _, finishes, chunks = await stream_text(
            client,
            messages=[{"role": "user", "content": "Tell me a short fairy tale."}],
            max_tokens=16,
            stream_options={"include_usage": True},
        )
        assert finishes[0] in {"stop", "length"}
        assert 0 < chunks[-1].usage.completion_tokens <= 16
        replies = await asyncio.gather(
            *(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"Count to {i}."}], max_tokens=8, n=2
                )
                for i in range(16)
            )
        )
    assert all(len(r.choices) == 2 for r in replies)
    assert "Traceback" not in nf4.log()
