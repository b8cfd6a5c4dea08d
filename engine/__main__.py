"""`python -m engine`: serve the model over HTTP until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from engine.config import ConfigError, EngineConfig
from engine.core import Engine
from engine.server import create_app

log = logging.getLogger("engine")

DESCRIPTION = """\
Taleweaver's model server: OpenAI-compatible chat completions over HTTP
(POST /v1/chat/completions, GET /v1/models, GET /health, GET /metrics).

Every option can also be set as an ENGINE_* environment variable or in .env
(see .env.example); options given here win. Without --model it serves the
embedded SmolLM2-135M-Instruct, converted once to a cache under --cache-dir.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m engine", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--host", help="address to bind (default 127.0.0.1; anything else needs ENGINE_API_KEY)")
    p.add_argument("--port", type=int, help="port to bind (default 8765)")
    p.add_argument("--model", help="HF id, model directory, .gguf file, or random:<shape>; default: embedded")
    p.add_argument("--adapter", help="LoRA adapter directory to apply on top of the model")
    p.add_argument(
        "--adapters", help="named LoRA adapters served side by side, name=dir,name=dir; a request's `model` picks one"
    )
    p.add_argument("--tokenizer", help="tokenizer directory for random:<shape> models (default: the embedded one's)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default auto: cuda when available")
    p.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], help="compute dtype (default bf16)")
    p.add_argument(
        "--quantization",
        choices=["auto", "nf4", "int8", "none"],
        help="bitsandbytes quantization, CUDA only (default auto: nf4 on CUDA, none on CPU)",
    )
    p.add_argument(
        "--backend",
        choices=["auto", "continuous", "batched"],
        help="auto: continuous batching on CUDA, batched decoding on CPU",
    )
    p.add_argument("--max-batch", type=int, help="sequences generated at once (default 64 CUDA, 8 CPU)")
    p.add_argument("--max-queue", type=int, help="sequences allowed to wait; more get 429 (default 256)")
    p.add_argument("--cache-dir", help="where converted models are cached (default ~/.cache/taleweaver)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ... (default INFO)")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> EngineConfig:
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    if "cache_dir" in overrides:
        from pathlib import Path

        overrides["cache_dir"] = Path(overrides["cache_dir"]).expanduser()
    return EngineConfig.from_env(**overrides)


async def serve(config: EngineConfig) -> int:
    engine = Engine(config)
    runner = web.AppRunner(create_app(engine, config), handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.host, config.port).start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        await runner.cleanup()
        return 2
    log.info("engine listening on http://%s:%s (loading the model)", config.host, config.port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    load = asyncio.create_task(engine.load())
    stopped, dead = asyncio.create_task(stop.wait()), asyncio.create_task(engine.dead.wait())
    await asyncio.wait({stopped, dead}, return_when=asyncio.FIRST_COMPLETED)
    code = 0 if stop.is_set() else 1
    if code:
        log.error("engine failed: %s", engine.error)
    else:
        log.info("shutting down: finishing in-flight requests (up to %.0f s)", config.shutdown_grace)
    load.cancel()
    await engine.shutdown(config.shutdown_grace)
    for task in (stopped, dead, load):
        task.cancel()
    await runner.cleanup()
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("transformers", "accelerate", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    return asyncio.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
