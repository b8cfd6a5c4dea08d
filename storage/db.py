"""The SQLite database: one long-lived aiosqlite connection, numbered migrations, serialized access.

All access goes through `Database.read()` or `Database.transaction()`, which share one asyncio lock:
aiosqlite runs every statement on a single worker thread, so two tasks interleaving statements on the
same connection would otherwise see (or roll back) each other's half-finished transactions. Writes run
inside `BEGIN IMMEDIATE`, so a write either happens whole or not at all. The lock is re-entrant for
the task holding it: a read (or a transaction) inside a transaction joins it instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import collections
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiosqlite

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
FOREIGN_KEYS_OFF = "-- migration: foreign_keys off"  # a migration that rebuilds a table says so on a line


class StorageError(Exception):
    """Base class for storage failures the caller can act on."""


class StorageUnavailable(StorageError):
    """A write could not be made right now; it was rolled back whole. The message says why, for a user."""


class DatabaseLocked(StorageUnavailable):
    """Another process holds the database's write lock for longer than BUSY_TIMEOUT_MS."""


class DiskFull(StorageUnavailable):
    """The disk (or the database's size limit) is full."""


BUSY_TIMEOUT_MS = 2000  # waited for another process's write lock; below Discord's 3 s to acknowledge


def unavailable(exc: sqlite3.Error) -> StorageUnavailable | None:
    """The user-facing error for a lock or a full disk, or None for anything else."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return DatabaseLocked(
            "💾 The database is busy (another program is holding it, e.g. a backup). Nothing was changed; "
            "please try again in a moment."
        )
    if code == sqlite3.SQLITE_FULL:
        return DiskFull(
            "💾 Taleweaver's disk is full, so nothing could be saved and nothing was changed. "
            "Please tell the server's admins; it works again once there is room."
        )
    return None


class MigrationError(StorageError):
    """A migration failed; the database was left at the previous version."""


class NewerSchemaError(StorageError):
    """The database was written by a newer Taleweaver than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migrations shipped in storage/migrations, in order; numbering must be 1, 2, 3, ..."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration numbering has a gap or duplicate at {migration.version:04d}")
    return found


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None
        self.write_seconds: collections.deque[float] = collections.deque(maxlen=10_000)  # BEGIN..COMMIT, newest

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path, *, migrate: bool = True) -> AsyncIterator[Database]:
        """Open (creating if needed) and migrate the database; close it on exit."""
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)  # transactions are explicit
        conn.row_factory = sqlite3.Row
        db = cls(conn, path)
        try:
            await db._configure()
            if migrate:
                await db.migrate()
            yield db
        finally:
            await conn.close()

    async def _configure(self) -> None:
        await self._conn.execute("PRAGMA journal_mode = WAL")
        await self._conn.execute("PRAGMA foreign_keys = ON")
        await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        # Deleted text is overwritten with zeros, so a purge or a forget-me leaves nothing in the file.
        await self._conn.execute("PRAGMA secure_delete = ON")

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and truncate it: old page images (which still hold
        deleted text) leave the -wal file. Returns False if a reader kept it from completing."""
        async with self._hold():
            async with self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                row = await cur.fetchone()
        return row is not None and row[0] == 0

    @asynccontextmanager
    async def _hold(self) -> AsyncIterator[bool]:
        """Take the lock unless this task already holds it; yields whether this call took it."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield False
            return
        async with self._lock:
            self._owner = task
            try:
                yield True
            finally:
                self._owner = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._hold():
            yield self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT`, or `ROLLBACK` if the block raises (or is cancelled).

        Inside another transaction of the same task it joins the outer one. A write refused because the
        database is locked by another process or the disk is full is rolled back and raised as
        `DatabaseLocked` or `DiskFull`, whose message is meant for the user.
        """
        async with self._hold() as outermost:
            if not outermost and self._conn.in_transaction:
                yield self._conn
                return
            try:
                began = time.perf_counter()
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    await asyncio.shield(self._rollback())
                    raise
                else:
                    await asyncio.shield(self._conn.commit())
                    self.write_seconds.append(time.perf_counter() - began)
            except sqlite3.Error as exc:
                if self._conn.in_transaction:  # a failed COMMIT leaves the transaction open
                    await asyncio.shield(self._rollback())
                if (translated := unavailable(exc)) is not None:
                    raise translated from exc
                raise

    async def _rollback(self) -> None:
        if self._conn.in_transaction:
            await self._conn.rollback()

    async def schema_version(self) -> int:
        async with self.read() as conn:
            return await _current_version(conn)

    async def migrate(self, target: int | None = None) -> list[int]:
        """Apply pending migrations up to `target` (default: all), each in its own transaction."""
        migrations = load_migrations()
        latest = migrations[-1].version if migrations else 0
        async with self._hold():
            await self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            current = await _current_version(self._conn)
            if current > latest:
                raise NewerSchemaError(
                    f"{self.path} is at schema version {current}, newer than this Taleweaver knows ({latest}). "
                    "Upgrade Taleweaver, or point DATABASE_PATH at another file."
                )
            applied = []
            for migration in migrations:
                if migration.version <= current or (target is not None and migration.version > target):
                    continue
                await self._apply(migration)
                applied.append(migration.version)
            return applied

    async def _apply(self, migration: Migration) -> None:
        # executescript would COMMIT any open transaction first, so the script carries its own BEGIN/COMMIT
        # and the version is recorded inside the same transaction as the schema change.
        record = (
            "INSERT INTO schema_migrations (version, name, applied_at) "
            f"VALUES ({migration.version}, '{migration.name}', {time.time()!r});"
        )
        if FOREIGN_KEYS_OFF in migration.sql:
            await self._apply_rebuild(migration, record)
            return
        try:
            await self._conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}\n;{record}\nCOMMIT;")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                await self._conn.rollback()
            raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc

    async def _apply_rebuild(self, migration: Migration, record: str) -> None:
        """A migration that rebuilds a table (SQLite cannot alter a CHECK): foreign keys off around the
        transaction (a DROP would otherwise cascade), `PRAGMA foreign_key_check` before the commit."""
        await self._conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction, so before it
        try:
            await self._conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}\n;{record}")
            async with self._conn.execute("PRAGMA foreign_key_check") as cursor:
                broken = list(await cursor.fetchall())
            if broken:
                raise sqlite3.IntegrityError(f"{len(broken)} rows break a foreign key (first: {tuple(broken[0])})")
            await self._conn.commit()
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                await self._conn.rollback()
            raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
        finally:
            await self._conn.execute("PRAGMA foreign_keys = ON")


async def _current_version(conn: aiosqlite.Connection) -> int:
    try:
        async with conn.execute("SELECT MAX(version) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
    except sqlite3.OperationalError:  # no table yet: a brand-new database
        return 0
    return int(row[0] or 0) if row else 0
