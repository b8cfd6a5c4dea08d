"""The cost of serving several LoRA adapters in one batch (ENGINE_ADAPTERS, batched backend).

    python -m bench.adapters [--requests 8] [--new-tokens 32]

Two random LoRA adapters (rank 8, on q/k/v/o) are made for the default model in a temporary directory
and loaded by name over it, in-process. The same batch of requests then runs three ways on that one
engine: all on the base model, all on one adapter, and mixed (alternating adapters and the base, which
peft serves in one batch with `adapter_names`). Throughput is tokens generated per second, so answers
that end early do not skew it. The ratios (mixed / one adapter, one adapter / base) are the cost.

Prints one JSON object on stdout, then a one-line summary. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.config import EngineConfig
from engine.core import Engine
from engine.protocol import parse_chat_request

log = logging.getLogger("bench.adapters")
PROMPT = "Write a very long story about a lighthouse keeper and a boat that washed ashore."


def make_adapter(target: Path, seed: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from engine.loading import load_model

    model = load_model(EngineConfig(device="cpu")).model
    torch.manual_seed(seed)
    modules = ["q_proj", "k_proj", "v_proj", "o_proj"]
    get_peft_model(model, LoraConfig(r=8, target_modules=modules, init_lora_weights=False)).save_pretrained(str(target))
    return target


async def run(engine: Engine, models: list[str | None], new_tokens: int) -> dict[str, Any]:
    async def one(i: int, model: str | None) -> int:
        body = {"messages": [{"role": "user", "content": f"{PROMPT} ({i})"}], "max_tokens": new_tokens}
        request = parse_chat_request({**body, "temperature": 0, "model": model, "user": f"bench-{i}"}, 4096)
        generation = engine.submit(engine.prepare(request), 1, request.user)
        async for _ in generation.deltas():
            pass
        return generation.completion_tokens

    started = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(i, m) for i, m in enumerate(models))))
    wall = time.perf_counter() - started
    return {
        "requests": len(models),
        "tokens": tokens,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / wall, 2),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-adapters-"))
    log.info("making two random adapters in %s", root)
    a, b = make_adapter(root / "a", 1), make_adapter(root / "b", 2)
    config = EngineConfig(device="cpu", backend="batched", max_batch=args.requests, adapters=f"a={a},b={b}")
    engine = Engine(config)
    await engine.load()
    if engine.state != "ready":
        raise SystemExit(f"the engine did not load: {engine.error}")
    try:
        await run(engine, [None, "a"], 4)  # warm-up
        mixed_models = [(None, "a", "b")[i % 3] for i in range(args.requests)]
        results = {}
        for name, models in (("base", [None] * args.requests), ("one_adapter", ["a"] * args.requests)):
            log.info("%s: %d requests", name, args.requests)
            results[name] = await run(engine, models, args.new_tokens)
        log.info("mixed: %d requests", args.requests)
        results["mixed"] = await run(engine, mixed_models, args.new_tokens)
    finally:
        await engine.shutdown(grace=0)
    return {
        **results,
        "mixed_vs_one_adapter": round(results["mixed"]["tokens_per_s"] / results["one_adapter"]["tokens_per_s"], 2),
        "one_adapter_vs_base": round(results["one_adapter"]["tokens_per_s"] / results["base"]["tokens_per_s"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.adapters", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--requests", type=int, default=8, help="requests in each batch (default 8)")
    p.add_argument("--new-tokens", type=int, default=32, help="tokens per request (default 32)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "accelerate", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    result = asyncio.run(bench(args))
    print(json.dumps(result, indent=2))
    print(
        f"adapters, batched backend on cpu, {args.requests} requests: mixed-adapter batch "
        f"{result['mixed_vs_one_adapter']:.2f}x the throughput of a one-adapter batch "
        f"({result['mixed']['tokens_per_s']:.1f} vs {result['one_adapter']['tokens_per_s']:.1f} tok/s); "
        f"one adapter {result['one_adapter_vs_base']:.2f}x the base model"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
