"""`python -m bot.dataset export`: write the consented feedback as a training file (JSONL)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from tqdm import tqdm

from bot.dataset.export import KINDS, ExportOptions, Policy, ServerSettings, count, export
from bot.settings import Settings, SettingsError
from storage.db import Database, StorageError

DESCRIPTION = """\
Export what players approved as training data for `python -m engine.finetune`.

Only rows written while the server's moderators had opted in (training_consent) are ever read, and
only servers that still consent are exported. Mentions, user and other Discord ids, each server's
blocked words and the model's chat control tokens are scrubbed; identical records are written once;
each record is marked "train" or "validation" by a hash of its prompt (the same split every time).

  sft         the prompt the model saw + a text someone approved: a poem saved to the anthology, a
              narration the players voted for, or a text rated more 👍 than 👎
  preference  prompt / chosen / rejected (trl's layout): a vote's winner over each other take, and a
              regenerated poem or another take over the text it replaced

The format is engine/finetune/README.md's data contract.
"""


def parse_date(text: str) -> float:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31 (or 2026-01-31T18:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.dataset", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = p.add_subparsers(dest="command", required=True, metavar="export")
    e = commands.add_parser("export", help="write the training file", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    e.add_argument("--out", required=True, type=Path, help="the JSONL file to write (replaced if it exists)")
    e.add_argument("--kind", choices=KINDS, default="sft", help="sft examples or preference pairs (default: sft)")
    e.add_argument("--server", type=int, metavar="ID", help="only this server (its Discord id)")
    e.add_argument("--since", type=parse_date, metavar="DATE", help="only rows written on or after DATE (UTC)")
    e.add_argument(
        "--db", type=Path, metavar="PATH", help="the SQLite file (default: DATABASE_PATH or data/taleweaver.db)"
    )
    e.add_argument("--validation", type=float, default=0.1, metavar="SHARE",
                   help="share of prompts held out for validation (default: 0.1)")  # fmt: skip
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def policy_for(db: Database) -> Policy:
    return ServerSettings(db)


async def run(args: argparse.Namespace, db_path: Path) -> list[str]:
    options = ExportOptions(args.kind, args.server, args.since or 0.0, args.validation)
    async with Database.open(db_path) as db:
        total = await count(db, options)
        with tqdm(total=total, unit="row", desc="exporting", disable=args.quiet, file=sys.stderr) as bar:
            summary = await export(db, args.out, options, policy_for(db), tick=bar.update)
    return summary.lines(args.out)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        db_path = args.db or Settings.from_env().database_path
    except SettingsError as exc:
        print(f"bot.dataset: {exc}", file=sys.stderr)
        return 2
    if not db_path.is_file():
        print(f"bot.dataset: there is no database at {db_path} (give --db PATH)", file=sys.stderr)
        return 2
    try:
        lines = asyncio.run(run(args, db_path))
    except (StorageError, ValueError, OSError) as exc:
        print(f"bot.dataset: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
