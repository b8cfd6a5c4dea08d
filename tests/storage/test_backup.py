"""`python -m bot.backup` (issue 14): an online copy of a real SQLite file while the bot's connection writes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage import poems
from storage.backup import backup
from storage.db import Database

POEM = {"guild_id": 1, "channel_id": 2, "author_id": 3, "topic": "the tide", "form": "haiku"}
LONG_TEXT = "The tide comes in over the grey stones. " * 2000  # ~80 KB: the copy takes a while
ROOT = Path(__file__).resolve().parents[2]


async def write_poem(db: Database, text: str = "grey stones") -> None:
    async with db.transaction() as conn:
        poem = await poems.create(conn, **POEM)
        await poems.set_text(conn, poem.id, text)


def count_in(path: Path) -> tuple[int, list[str]]:
    conn = sqlite3.connect(path)
    try:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        return conn.execute("SELECT count(*) FROM poems").fetchone()[0], integrity
    finally:
        conn.close()


async def test_a_backup_taken_while_the_bot_writes_is_whole_and_nobody_waits_on_a_lock(tmp_path: Path) -> None:
    source, target = tmp_path / "live.db", tmp_path / "backups" / "copy.db"
    async with Database.open(source) as db:
        for _ in range(40):
            await write_poem(db, LONG_TEXT)  # committed, still in the WAL: the copy must include them
        before = 40
        written = 0
        stop = asyncio.Event()

        async def keep_writing() -> None:
            nonlocal written
            while not stop.is_set():
                await write_poem(db)  # raises DatabaseLocked if the backup ever held the write lock
                written += 1
                await asyncio.sleep(0)

        writer = asyncio.create_task(keep_writing())
        await asyncio.sleep(0.05)
        results, during = [], 0
        while len(results) < 3 or (during == 0 and len(results) < 50):  # until writes landed mid-copy
            started = written
            results.append(await asyncio.to_thread(backup, source, target))
            during += written - started  # the bot's writes committed while this copy was being made
            copied, integrity = count_in(target)
            assert integrity == ["ok"]
            assert before <= copied <= before + written + 1
        stop.set()
        await writer  # no lock errors on the bot's side
        version = await db.schema_version()
    assert during > 0, "the writer never wrote while the backups ran"
    result = results[-1]
    assert result.target == target and result.tables > 5 and result.schema_version == version
    assert not (tmp_path / "backups" / ".copy.db.partial").exists()
    assert not (tmp_path / "backups" / "copy.db-wal").exists()  # one self-contained file
    # Restore: the copy opens as the bot's database, at the same schema, with what it held.
    async with Database.open(target) as restored:
        assert await restored.schema_version() == version
        async with restored.read() as conn:
            async with conn.execute("SELECT count(*) FROM poems WHERE length(text) > 1000") as cursor:
                row = await cursor.fetchone()
        assert row is not None and row[0] == before


async def test_a_write_held_open_by_another_connection_neither_blocks_the_backup_nor_gets_into_it(
    tmp_path: Path,
) -> None:
    source = tmp_path / "live.db"
    async with Database.open(source) as db:
        await write_poem(db, "committed")
        other = sqlite3.connect(source, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # holds the write lock, as the bot does mid-transaction
            other.execute("UPDATE poems SET text = 'uncommitted'")
            result = await asyncio.to_thread(backup, source, tmp_path / "copy.db")
            other.execute("COMMIT")
        finally:
            other.close()
    assert result.pages > 0
    conn = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert conn.execute("SELECT text FROM poems").fetchall() == [("committed",)]
    finally:
        conn.close()


def test_a_backup_refuses_a_missing_database_and_its_own_target(tmp_path: Path) -> None:
    from storage.backup import BackupError

    source = tmp_path / "a.db"
    try:
        backup(source, tmp_path / "b.db")
    except BackupError as exc:
        assert "no database" in str(exc)
    else:
        raise AssertionError("a missing database was backed up")
    sqlite3.connect(source).close()
    try:
        backup(source, source)
    except BackupError as exc:
        assert "must not overwrite" in str(exc)
    else:
        raise AssertionError("the database was backed up over itself")
    assert not (tmp_path / "b.db").exists()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_PATH"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.backup", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_cli_copies_prints_one_line_and_explains_restore(tmp_path: Path) -> None:
    source = tmp_path / "bot.db"
    async with Database.open(source) as db:
        await write_poem(db)
        await write_poem(db)
        done = await asyncio.to_thread(run_cli, "--out", str(tmp_path / "a.db"), "--db", str(source))
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 1 and "integrity ok" in lines[0] and str(source) in lines[0]
        assert count_in(tmp_path / "a.db") == (2, ["ok"])
        # Without --db: DATABASE_PATH, as the bot reads it.
        done = await asyncio.to_thread(run_cli, "--out", str(tmp_path / "b.db"), env={"DATABASE_PATH": str(source)})
        assert done.returncode == 0, done.stderr
        assert count_in(tmp_path / "b.db") == (2, ["ok"])

    helped = run_cli("--help")
    assert helped.returncode == 0 and "--out FILE" in helped.stdout and "To restore: stop the bot" in helped.stdout
    missing = run_cli("--out", str(tmp_path / "c.db"), "--db", str(tmp_path / "nowhere.db"))
    assert missing.returncode == 2 and "there is no database at" in missing.stderr
    assert not (tmp_path / "c.db").exists()
    no_out = run_cli("--db", str(source))
    assert no_out.returncode == 2 and "--out" in no_out.stderr
