"""Engine throughput: N concurrent streaming requests over HTTP versus the same requests one by one in-process.

    python -m bench.engine                       # CPU: 8 concurrent against a fresh engine on the default model
    python -m bench.engine --concurrency 1,8,64 --random-weights --shape llama-3.1-8b --quantization nf4  # GPU

The engine side streams each request over HTTP (as the bot does) and counts the tokens each one actually
produced (the model may stop early; `usage` says how many). The baseline is plain `model.generate`, one
request after another in this process, on the same model, device, dtype and quantization, with
`min_new_tokens == max_new_tokens`. What is compared is aggregate tokens per second, which does not depend
on how long each answer happened to be. The baseline's latencies are each request's own service time: they
leave out the time it would have queued behind the others.

Several concurrency levels (`--concurrency 1,8,64`) run against one engine, each compared with the same
baseline. The run also measures the device's memory bandwidth (a device-to-device copy) and the bytes
of weights one decode step reads, and reports single-stream decode speed as a share of the bound
bandwidth / bytes-per-token that memory traffic alone puts on it.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.hardware import measure_bandwidth, weight_bytes
from engine.config import EngineConfig
from engine.loading import RANDOM_PREFIX, SHAPES, load_model

log = logging.getLogger("bench.engine")

# Text the prompts are cut from: an open-ended story opening, so that the model tends to keep writing.
STORY = (
    "The lighthouse keeper of Saltmarsh had not spoken to another person in eleven years when the boat "
    "washed up on the shingle below the tower. It was a narrow thing of black wood, older than any boat "
    "she had seen, and it carried no oars, no sail and no one at all, only a sealed chest and a letter "
    "addressed to her in her mother's hand. The storm that brought it had torn the roof from the boathouse "
    "and scattered the gulls inland, and the village across the bay had gone dark for three nights. "
)
INSTRUCTION = "Continue this story in rich detail, chapter after chapter, and do not stop early:\n\n"
DTYPE_NAMES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


@dataclass
class Sample:
    ttft_s: float
    latency_s: float
    tokens: int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.engine", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--concurrency", default="8", help="requests in flight at once; a list runs each (default 8)")
    p.add_argument("--requests", type=int, help="requests per level (default: that level's concurrency)")
    p.add_argument("--prompt-tokens", type=int, default=500, help="prompt length in tokens (default 500)")
    p.add_argument("--new-tokens", type=int, default=128, help="tokens to generate per request (default 128)")
    p.add_argument("--baseline-requests", type=int, help="sequential baseline runs (default min(requests, 8))")
    p.add_argument("--url", help="benchmark a running engine instead of starting one (e.g. http://127.0.0.1:8765)")
    p.add_argument("--api-key", help="the engine's ENGINE_API_KEY, with --url")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp16", "fp32"])
    p.add_argument("--quantization", default="auto", choices=["auto", "nf4", "int8", "none"])
    p.add_argument("--backend", default="auto", choices=["auto", "continuous", "batched"])
    p.add_argument("--random-weights", action="store_true", help="random weights in the shape of --shape")
    p.add_argument("--shape", default="llama-3.1-8b", choices=sorted(SHAPES), help="with --random-weights")
    p.add_argument("--model", help="ENGINE_MODEL for the engine and the baseline (default: the embedded model)")
    p.add_argument("--skip-baseline", action="store_true", help="measure the engine only")
    p.add_argument("--tokenizer", help="tokenizer directory for --random-weights (ENGINE_TOKENIZER)")
    args = p.parse_args(argv)
    try:
        args.levels = [int(c) for c in str(args.concurrency).split(",") if c.strip()]
    except ValueError:
        p.error("--concurrency takes integers separated by commas, e.g. 1,8,64")
    args.most = max(args.requests or 0, *args.levels) if args.levels else 0
    args.baseline_requests = args.baseline_requests or min(args.most, 8)
    if args.random_weights:
        args.model = RANDOM_PREFIX + args.shape
    if not args.levels or min(*args.levels, args.prompt_tokens, args.new_tokens, args.baseline_requests) < 1:
        p.error("counts and lengths must be positive")
    return args


def make_prompts(tokenizer: Any, count: int, prompt_tokens: int) -> list[list[dict[str, str]]]:
    """`count` different chat prompts of about `prompt_tokens` tokens once the chat template is applied.

    Each starts differently, so that no engine can share one prompt's cache between requests.
    """
    story_ids = tokenizer(STORY * (prompt_tokens // 40 + 2), add_special_tokens=False)["input_ids"]
    prompts = []
    for i in range(count):
        head = f"Reader {i + 1} asks: {INSTRUCTION}"
        overhead = len(_render(tokenizer, head))
        body = tokenizer.decode(story_ids[: max(1, prompt_tokens - overhead)])
        prompts.append([{"role": "user", "content": head + body}])
    return prompts


def _render(tokenizer: Any, content: str) -> list[int]:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# --- the engine over HTTP ------------------------------------------------------------------------------
async def stream_one(
    session: aiohttp.ClientSession, url: str, messages: list[dict[str, str]], new_tokens: int, seed: int
) -> Sample:
    body = {
        "messages": messages,
        "max_tokens": new_tokens,
        "temperature": 1.0,
        "seed": seed,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": f"bench-{seed % 4}",
    }
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    async with session.post(f"{url}/v1/chat/completions", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"engine answered {response.status}: {await response.text()}")
        async for raw in response.content:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line.removeprefix("data: "))
            if "error" in event:
                raise RuntimeError(f"engine error mid-stream: {event['error']}")
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            elif first is None and any(c["delta"].get("content") for c in event["choices"]):
                first = time.perf_counter()
    done = time.perf_counter()
    return Sample((first or done) - started, done - started, tokens)


async def run_engine(
    url: str, api_key: str | None, prompts: list, args: argparse.Namespace, concurrency: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    connector = aiohttp.TCPConnector(limit=concurrency)
    requests = args.requests or concurrency
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as session:
        async with session.get(f"{url}/health") as response:
            health = await response.json()
        await stream_one(session, url, prompts[0], 4, seed=0)  # warm-up, not counted
        gate = asyncio.Semaphore(concurrency)

        async def limited(i: int) -> Sample:
            async with gate:
                return await stream_one(session, url, prompts[i], args.new_tokens, seed=1000 + i)

        started = time.perf_counter()
        samples = await asyncio.gather(*(limited(i) for i in range(requests)))
        wall = time.perf_counter() - started
    return {"health": health, "concurrency": concurrency, **summarize(samples, wall)}


# --- the sequential in-process baseline ----------------------------------------------------------------
def run_baseline(config: EngineConfig, prompts: list, args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers.generation.streamers import BaseStreamer

    class FirstToken(BaseStreamer):
        """Notes when generate hands over its first new token (its first `put` is the prompt)."""

        def __init__(self) -> None:
            self.calls, self.first = 0, None

        def put(self, value: Any) -> None:
            self.calls += 1
            if self.calls == 2:
                self.first = time.perf_counter()

        def end(self) -> None:
            pass

    loaded = load_model(config, lambda msg: log.info("baseline: %s", msg))
    tokenizer, model = loaded.tokenizer, loaded.model
    device = next(model.parameters()).device

    def generate(messages: list[dict[str, str]], new_tokens: int, seed: int) -> Sample:
        ids = torch.tensor([_render(tokenizer, messages[0]["content"])], device=device)
        torch.manual_seed(seed)
        streamer = FirstToken()
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=True,
                temperature=1.0,
                top_p=1.0,
                top_k=0,
                pad_token_id=loaded.eos_token_ids[0],
                streamer=streamer,
            )
        if device.type == "cuda":
            torch.cuda.synchronize()
        done = time.perf_counter()
        return Sample((streamer.first or done) - started, done - started, out.shape[1] - ids.shape[1])

    generate(prompts[0], 4, seed=0)  # warm-up, not counted
    memory = {
        "bandwidth_gb_s": round(measure_bandwidth(device) / 1e9, 1),
        "weight_bytes_per_token": weight_bytes(model),
    }
    samples = []
    started = time.perf_counter()
    for i in range(args.baseline_requests):
        samples.append(generate(prompts[i], args.new_tokens, seed=1000 + i))
        log.info("baseline %d/%d: %d tokens", i + 1, args.baseline_requests, samples[-1].tokens)
    wall = time.perf_counter() - started
    info = {"device": loaded.device, "dtype": loaded.dtype, "quantization": loaded.quantization}
    return {**info, **memory, **summarize(samples, wall)}


# --- reporting -----------------------------------------------------------------------------------------
def summarize(samples: list[Sample], wall: float) -> dict[str, Any]:
    tokens = sum(s.tokens for s in samples)
    decode = [(s.tokens - 1) / (s.latency_s - s.ttft_s) for s in samples if s.tokens > 1 and s.latency_s > s.ttft_s]
    return {
        "decode_tokens_per_s_per_request_p50": round(percentile(decode, 50), 2) if decode else 0.0,
        "requests": len(samples),
        "tokens": tokens,
        "tokens_per_request_min": min(s.tokens for s in samples),
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / wall, 2) if wall else 0.0,
        "ttft_p50_s": round(percentile([s.ttft_s for s in samples], 50), 3),
        "ttft_p95_s": round(percentile([s.ttft_s for s in samples], 95), 3),
        "latency_p50_s": round(percentile([s.latency_s for s in samples], 50), 3),
        "latency_p95_s": round(percentile([s.latency_s for s in samples], 95), 3),
    }


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_line(result: dict[str, Any]) -> str:
    levels, base = result["levels"], result.get("baseline")
    head = f"engine on {levels[0]['health']['device']} ({result['quantization']})"
    parts = []
    for level in levels:
        part = f"{level['concurrency']}x: {level['tokens_per_s']:.0f} tok/s, TTFT p95 {level['ttft_p95_s']:.2f} s"
        if base:
            part += f", {level['throughput_ratio']:.1f}x sequential"
        parts.append(part)
    tail = ""
    if base:
        tail = f"; sequential generate {base['tokens_per_s']:.0f} tok/s"
        if result.get("single_stream_share_of_bound") is not None:
            tail += f"; single stream {100 * result['single_stream_share_of_bound']:.0f}% of the bandwidth bound"
    return f"{head}: " + " | ".join(parts) + tail


# --- main ----------------------------------------------------------------------------------------------
async def bench(args: argparse.Namespace) -> dict[str, Any]:
    settings = {
        "device": args.device,
        "dtype": args.dtype,
        "quantization": args.quantization,
        "backend": args.backend,
        "max_batch": max(args.levels),
        "max_queue": max(256, args.most),
        "log_level": "WARNING",
    }
    for name in ("model", "tokenizer"):
        if getattr(args, name):
            settings[name] = getattr(args, name)
    proc = None
    url, api_key = args.url, args.api_key
    if url is None:
        from tests.support.engine_proc import start_engine

        log.info("starting an engine: %s", settings)
        proc = start_engine(Path(tempfile.mkdtemp(prefix="bench-engine-")), ready_timeout=900, **settings)
        url, api_key = proc.url, proc.api_key
    url = url.rstrip("/").removesuffix("/v1")
    try:
        health = await _health(url)
        # The baseline tokenizes exactly as the engine does, with the engine's model, device and dtype.
        config = _baseline_config(args, health)
        tokenizer = _tokenizer(config)
        prompts = make_prompts(tokenizer, args.most, args.prompt_tokens)
        levels = []
        for concurrency in args.levels:
            log.info("engine: %d requests, %d at a time", args.requests or concurrency, concurrency)
            levels.append(await run_engine(url, api_key, prompts, args, concurrency))
    finally:
        if proc is not None:
            proc.stop()
    result: dict[str, Any] = {
        "model": health["model"],
        "quantization": health["quantization"],
        "prompt_tokens": len(_render(tokenizer, prompts[0][0]["content"])),
        "new_tokens": args.new_tokens,
        "levels": levels,
    }
    if not args.skip_baseline:
        log.info("baseline: %d requests one after another, in-process", args.baseline_requests)
        base = await asyncio.to_thread(run_baseline, config, prompts, args)
        result["baseline"] = base
        for level in levels:
            level["throughput_ratio"] = round(level["tokens_per_s"] / base["tokens_per_s"], 2)
            level["ttft_p95_ratio"] = round(level["ttft_p95_s"] / base["ttft_p95_s"], 2)
        bound = base["bandwidth_gb_s"] * 1e9 / base["weight_bytes_per_token"]
        result["bandwidth_bound_tokens_per_s"] = round(bound, 1)
        single = next((lv for lv in levels if lv["concurrency"] == 1), None)
        if single is not None:
            share = single["decode_tokens_per_s_per_request_p50"] / bound
            result["single_stream_share_of_bound"] = round(share, 3)
    return result


async def _health(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/health") as response:
        health = await response.json()
    if health.get("status") != "ready":
        raise SystemExit(f"the engine at {url} is not ready: {health}")
    return health


def _baseline_config(args: argparse.Namespace, health: dict[str, Any]) -> EngineConfig:
    model = args.model
    if args.url and health["model"].startswith("random-"):
        model = RANDOM_PREFIX + health["model"].removeprefix("random-")
    return EngineConfig(
        model=model,
        tokenizer=args.tokenizer,
        device=health["device"],
        dtype=DTYPE_NAMES.get(health["dtype"], "auto"),
        quantization=health["quantization"],
    )


def _tokenizer(config: EngineConfig) -> Any:
    from transformers import AutoTokenizer

    from engine.loading import convert_gguf, default_gguf_path

    if config.model and config.model.lower().endswith(".gguf"):
        return AutoTokenizer.from_pretrained(str(convert_gguf(Path(config.model), config.cache_dir, log.info)))
    if config.model and not config.model.startswith(RANDOM_PREFIX):
        return AutoTokenizer.from_pretrained(config.model)
    if config.tokenizer:
        return AutoTokenizer.from_pretrained(config.tokenizer)
    return AutoTokenizer.from_pretrained(str(convert_gguf(default_gguf_path(), config.cache_dir, log.info)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "accelerate", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    result = asyncio.run(bench(args))
    print(json.dumps(result, indent=2))
    print(summary_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
