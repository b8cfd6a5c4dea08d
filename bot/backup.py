"""`python -m bot.backup --out FILE`: copy the SQLite database while the bot runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings, SettingsError
from storage.backup import BackupError, backup

DESCRIPTION = """\
Copy Taleweaver's SQLite database to FILE, safely, while the bot keeps running.

The copy is made with SQLite's online backup API from one consistent snapshot (the bot's writes go on
meanwhile), checked with PRAGMA integrity_check, and only then put in place under FILE.

To restore: stop the bot, copy the backup over the database file (DATABASE_PATH, default
data/taleweaver.db), delete any taleweaver.db-wal and taleweaver.db-shm next to it, start the bot.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.backup", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="the copy to write (replaced if it exists)")
    p.add_argument(
        "--db", type=Path, metavar="PATH", help="the SQLite file (default: DATABASE_PATH or data/taleweaver.db)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        db_path: Path = args.db or Settings.from_env().database_path
        result = backup(db_path, args.out)
    except (SettingsError, BackupError, OSError) as exc:
        print(f"bot.backup: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
