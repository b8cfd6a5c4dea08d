"""Dataset export: what scrubbing, deduplicating and splitting cost over reading the rows.

    python -m bench.dataset                     # 10,000 approved poems and narrations
    python -m bench.dataset --items 100000

One temporary SQLite file is filled through the repositories: `--items` consented feedback items (poems
with short prompts, narrations with ~3 KB story prompts; a tenth repeat an earlier item; every text
carries a user mention, an id and a control token to scrub), each approved. Then, in the same run:
- baseline: reading every approved item through `storage.feedback.approved_items` (what any export must do);
- export: `bot.dataset.export.export` writing the SFT file (read + scrub + dedup + split + write).

Prints one JSON object on stdout, then a one-line summary. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from bot.dataset.export import ExportOptions, StoredConsentOnly, export
from storage import feedback as repo
from storage.db import Database

GUILDS = (1001, 1002, 1003)
STORY = (
    "The caravan left Qasr at dawn with forty camels, a disgraced cartographer and a sealed letter for the "
    "keeper of the last well. <@123456789012345678> bargained for water with a copper-eyed merchant. "
) * 12


def _item(n: int, rng: random.Random) -> tuple[str, list[dict[str, str]], str]:
    if n % 3:
        prompt = [
            {"role": "system", "content": "You are a gifted poet. Answer with the poem only."},
            {"role": "user", "content": f'Write a haiku about "topic {n} for <@{10**17 + n}>".'},
        ]
        return "poem", prompt, f"Line one of poem {n},\nline two <|im_end|> {rng.random():.6f},\nline three."
    prompt = [
        {"role": "system", "content": "You are the narrator of a collaborative story."},
        {"role": "user", "content": f"{STORY}\nRound {n}: continue the story."},
    ]
    return "narration", prompt, f"The wind rose over round {n}; {rng.random():.6f} <@{10**17 + n}> looked up."


async def fill(db: Database, items: int) -> None:
    rng = random.Random(0)
    made: list[tuple[str, list[dict[str, str]], str]] = []
    async with db.transaction() as conn:
        for n in range(items):
            kind, prompt, text = made[rng.randrange(len(made))] if made and n % 10 == 0 else _item(n, rng)
            made.append((kind, prompt, text))
            item = await repo.add_item(
                conn, guild_id=GUILDS[n % len(GUILDS)], kind=kind, prompt=prompt, text=text, consent=True
            )
            await repo.approve(conn, item.id, 7)


async def read_all(db: Database) -> int:
    async with db.read() as conn:
        return sum([1 async for _ in repo.approved_items(conn)])


async def run(items: int, reps: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        async with Database.open(Path(folder) / "bench.db") as db:
            print(f"filling {items:,} items…", file=sys.stderr)
            await fill(db, items)
            read_s, export_s = [], []
            summary = None
            for rep in range(reps):
                print(f"rep {rep + 1}/{reps}", file=sys.stderr)
                start = time.perf_counter()
                assert await read_all(db) == items
                read_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                summary = await export(db, Path(folder) / "sft.jsonl", ExportOptions(), StoredConsentOnly())
                export_s.append(time.perf_counter() - start)
            size = (Path(folder) / "sft.jsonl").stat().st_size
    assert summary is not None
    best_read, best_export = min(read_s), min(export_s)
    return {
        "items": items,
        "written": summary.total,
        "duplicates": summary.duplicates,
        "validation": summary.splits["validation"],
        "file_bytes": size,
        "read_s": round(best_read, 3),
        "export_s": round(best_export, 3),
        "export_items_per_s": round(items / best_export),
        "export_over_read": round(best_export / best_read, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000, help="feedback items to export (default 10,000)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions; the best is reported")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.items, args.reps))
    print(json.dumps(result))
    print(
        f"dataset export: {result['items']:,} items in {result['export_s']} s ({result['export_items_per_s']:,}/s), "
        f"{result['export_over_read']}x reading the rows alone ({result['read_s']} s); "
        f"{result['written']:,} written, {result['duplicates']:,} duplicates dropped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
