"""An online copy of the SQLite file: SQLite's backup API, safe while the bot keeps writing.

The copy is read through its own connection. In WAL mode a reader never blocks the bot's writers and
the writers never block the reader, so the whole database is copied in one step from one consistent
snapshot (a step-by-step copy would restart whenever another connection writes). The copy is written
next to its destination and renamed into place only after `PRAGMA integrity_check` says "ok", so a
failed or interrupted backup never leaves a half-written file under the name asked for.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from storage.db import BUSY_TIMEOUT_MS


class BackupError(Exception):
    """The backup could not be made; the message says why. Nothing was written under the target name."""


@dataclass(frozen=True)
class BackupResult:
    source: Path
    target: Path
    pages: int
    page_size: int
    tables: int
    schema_version: int
    seconds: float

    @property
    def size_bytes(self) -> int:
        return self.pages * self.page_size

    def summary(self) -> str:
        return (
            f"backed up {self.source} -> {self.target}: {self.size_bytes / 1_000_000:.1f} MB "
            f"({self.pages} pages), {self.tables} tables, schema version {self.schema_version}, "
            f"integrity ok, {self.seconds:.2f} s"
        )


def backup(source: Path, target: Path) -> BackupResult:
    """Copy the database at `source` to `target` (replaced if it exists) and check the copy."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if target.resolve() == source.resolve():
        raise BackupError("the backup must not overwrite the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    started = time.monotonic()
    try:
        _copy(source, partial)
        result = _check(partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    pages, page_size, tables, version = result
    version = version or 0
    return BackupResult(source, target, pages, page_size, tables, version, time.monotonic() - started)


def _copy(source: Path, partial: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: one step, one read snapshot
            # The copy is one self-contained file: no -wal next to it to forget when it is moved.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _check(path: Path) -> tuple[int, int, int, int]:
    """(pages, page size, tables, schema version) of a copy that passes integrity_check."""
    conn = sqlite3.connect(path)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy failed integrity_check: {'; '.join(problems[:5])}")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        has_migrations = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        version = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] if has_migrations else 0
    finally:
        conn.close()
    return pages, page_size, tables, version
