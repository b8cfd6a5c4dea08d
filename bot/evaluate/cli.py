"""The evaluation command line: parse, run against one or more engines, write JSON, a table and a chart."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.evaluate import perplexity, prompts, report, runner
from bot.evaluate.prompts import PromptSetError, TextItem
from bot.llm.client import EngineClient, EngineError
from bot.llm.supervisor import EngineStartError, EngineSupervisor
from bot.llm.types import EngineHealth

MAX_N = 8  # what the engine accepts for `n`

DESCRIPTION = """\
Measure what a model writes for Taleweaver: poem form adherence (first draft and best of N), distinct-1/2,
repetition, self-BLEU, BLEU/ROUGE-L against references, narrator faults, and perplexity of given texts.
Without --engine-url it starts the engine (`python -m engine`) with the ENGINE_* settings and stops it after.
"""


@dataclasses.dataclass(frozen=True)
class Target:
    label: str
    url: str | None  # None: the engine this command started (or --engine-url)
    model: str | None  # the OpenAI `model` field: an adapter name, or None for the engine's default


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.evaluate", description=DESCRIPTION)
    p.add_argument(
        "--prompts", type=Path, default=prompts.DEFAULT_PROMPTS, help="a JSONL prompt set (default: the bundled one)"
    )
    p.add_argument("--engine-url", help="an OpenAI-compatible server (default: start the engine here)")
    p.add_argument(
        "--api-key", default=os.environ.get("ENGINE_API_KEY"), help="for --engine-url (default: $ENGINE_API_KEY)"
    )
    p.add_argument("--n", type=int, default=4, help=f"drafts per prompt, in one request (1-{MAX_N}; default 4)")
    p.add_argument(
        "--out", type=Path, default=Path("evaluation"), help="where results.json, table.txt and adherence.png go"
    )
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="URL_OR_ADAPTER",
        help="evaluate each engine URL (http...) or adapter name (sent as `model`) side by side",
    )
    p.add_argument("--seed", type=int, help="a sampling seed, for a run that can be repeated")
    p.add_argument("--max-tokens", type=int, help="cap every request's max_tokens (quick runs)")
    p.add_argument("--limit", type=int, help="use only the first LIMIT prompts of the set")
    p.add_argument("--per-group", type=int, help="use only the first K prompts of each form or kind of narration")
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests in flight at once (default 1: the CPU engine batches a request's n drafts, not requests)",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds one request may take (default 900)")
    p.add_argument("--no-perplexity", action="store_true", help="skip perplexity (it loads the model in this process)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 1 <= args.n <= MAX_N:
        parser().error(f"--n must be between 1 and {MAX_N}")
    if args.max_tokens is not None and args.max_tokens < 1:
        parser().error("--max-tokens must be at least 1")
    try:
        items = prompts.load(args.prompts)
    except (OSError, PromptSetError) as exc:
        print(f"Cannot read the prompt set: {exc}", file=sys.stderr)
        return 2
    items = prompts.select(items, limit=args.limit, per_group=args.per_group)
    try:
        result = asyncio.run(evaluate(args, items, sys.argv[1:] if argv is None else argv))
    except (EngineError, EngineStartError) as exc:
        print(f"The engine could not be used: {exc}", file=sys.stderr)
        return 1
    text = report.table(result["runs"], args.n)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    (args.out / "table.txt").write_text(text + "\n", encoding="utf-8")
    chart = report.chart(result["runs"], args.n, args.out / "adherence.png")
    print(text)
    if result.get("perplexity"):
        print("\n" + _perplexity_line(result["perplexity"]))
    print(f"\nwrote {args.out / 'results.json'}, {args.out / 'table.txt'} and {chart}")
    return 0


def targets(args: argparse.Namespace) -> list[Target]:
    if not args.compare:
        return [Target("model", args.engine_url, None)]
    return [
        Target(c, c.rstrip("/"), None) if c.startswith(("http://", "https://")) else Target(c, args.engine_url, c)
        for c in args.compare
    ]


async def evaluate(args: argparse.Namespace, items: list[prompts.PromptItem], argv: list[str]) -> dict[str, Any]:
    options = runner.Options(n=args.n, seed=args.seed, max_tokens=args.max_tokens, concurrency=args.concurrency)
    chosen = targets(args)
    started = time.time()
    runs: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        local_url, local_key = args.engine_url, args.api_key
        if any(t.url is None for t in chosen):
            supervisor = EngineSupervisor(
                env=_engine_env(args.timeout), progress=lambda m: print(f"engine: {m}", file=sys.stderr)
            )
            await stack.enter_async_context(supervisor)
            local_url, local_key = supervisor.url, supervisor.api_key
        work = sum(1 for i in items if not isinstance(i, TextItem))
        bar = stack.enter_context(tqdm(total=work * len(chosen), desc="evaluating", unit="prompt", file=sys.stderr))
        for target in chosen:
            url = target.url or local_url
            key = local_key if target.url is None or target.url == args.engine_url else args.api_key
            async with EngineClient(url, api_key=key, model=target.model, timeout=args.timeout) as client:
                health = await client.health()
                results = await runner.run(client, items, options, lambda: _advance(bar))
            runs.append(_run_record(target, url, health, results))
    result: dict[str, Any] = {
        "command": ["python", "-m", "bot.evaluate", *argv],
        "prompts": str(args.prompts),
        "settings": {
            "n": args.n,
            "seed": args.seed,
            "max_tokens": args.max_tokens,
            "limit": args.limit,
            "per_group": args.per_group,
        },
        "seconds": round(time.time() - started, 1),
        "runs": runs,
    }
    texts = [i.text for i in items if isinstance(i, TextItem)]
    if texts and not args.no_perplexity:
        result["perplexity"] = await asyncio.to_thread(_perplexity, texts, chosen, runs)
    return result


def _engine_env(timeout: float) -> dict[str, str]:
    """The engine's settings from the environment, but letting a request run as long as this tool waits:
    n drafts of a long form on a busy CPU can take longer than the engine's default 300 s."""
    env = dict(os.environ)
    current = float(env.get("ENGINE_REQUEST_TIMEOUT") or 300)
    env["ENGINE_REQUEST_TIMEOUT"] = str(max(current, timeout))
    return env


def _advance(bar: tqdm) -> None:
    bar.update(1)


def _run_record(target: Target, url: str, health: EngineHealth, results: list[runner.ItemResult]) -> dict[str, Any]:
    return {
        "label": target.label,
        "engine": url,
        "model": target.model or health.model or "default",
        "summary": report.summarise(results),
        "items": [{"kind": type(r).__name__.removesuffix("Result").lower(), **dataclasses.asdict(r)} for r in results],
    }


def _perplexity(texts: list[str], chosen: list[Target], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """In-process perplexity for the local model, and for each compared adapter that is a local directory."""
    base = perplexity.load()
    measured: dict[str, Any] = {"method": "in-process", "texts": len(texts), "models": {}}
    base_result = perplexity.measure(base, texts)
    for target, run in zip(chosen, runs, strict=True):
        if target.model and Path(target.model).is_dir():
            result = perplexity.measure(perplexity.load(target.model), texts, target.model)
        elif target.model is None and run["model"] in (base.name, "default"):
            result = base_result
        else:
            measured["models"][target.label] = {"skipped": f"{run['model']} is not the model this process can load"}
            continue
        measured["models"][target.label] = {"model": result.model, "mean": result.mean, "values": list(result.values)}
    if not measured["models"]:
        measured["models"][base.name] = {
            "model": base.name,
            "mean": base_result.mean,
            "values": list(base_result.values),
        }
    return measured


def _perplexity_line(ppl: dict[str, Any]) -> str:
    parts = [
        f"{label}: {entry['mean']}" if "mean" in entry else f"{label}: skipped ({entry['skipped']})"
        for label, entry in ppl["models"].items()
    ]
    return f"perplexity of {ppl['texts']} given texts ({ppl['method']}): " + "; ".join(parts)
