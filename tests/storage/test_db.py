"""storage.db: connection settings, migrations (in order, atomic, idempotent, upgradable) and transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import aiosqlite
import pytest

import storage.db
from storage.db import Database, Migration, MigrationError, NewerSchemaError, load_migrations


def use_migrations_dir(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make `load_migrations()` read a temporary migrations package instead of storage/migrations."""
    monkeypatch.setattr(storage.db, "resources", SimpleNamespace(files=lambda package: folder))


def ship_extra_migrations(monkeypatch: pytest.MonkeyPatch, *extra: tuple[str, str]) -> int:
    """Ship the real migrations plus `extra` (name, sql) numbered after them; returns the latest version."""
    real = load_migrations()
    added = [Migration(len(real) + i, name, sql) for i, (name, sql) in enumerate(extra, start=1)]
    monkeypatch.setattr(storage.db, "load_migrations", lambda: [*real, *added])
    return len(real) + len(added)


async def table_names(conn: aiosqlite.Connection) -> set[str]:
    async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        return {row[0] for row in await cur.fetchall()}


async def tables(db: Database) -> set[str]:
    async with db.read() as conn:
        return await table_names(conn)


async def recorded_versions(db: Database) -> list[int]:
    async with db.read() as conn, conn.execute("SELECT version FROM schema_migrations ORDER BY version") as cur:
        return [row[0] for row in await cur.fetchall()]


# --- loading migrations -------------------------------------------------------------------------------


def test_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = load_migrations()
    assert migrations, "storage/migrations ships no migration"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.sql.strip() and m.name for m in migrations)


def test_a_gap_in_the_numbering_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (x INTEGER);")
    (tmp_path / "0003_third.sql").write_text("CREATE TABLE c (x INTEGER);")
    (tmp_path / "README.txt").write_text("not a migration")  # ignored: does not match the name pattern
    use_migrations_dir(monkeypatch, tmp_path)
    with pytest.raises(MigrationError, match="0003"):
        load_migrations()


# --- a new database -----------------------------------------------------------------------------------


async def test_new_file_is_configured_and_fully_migrated(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "new.db"  # parent folders are created
    async with Database.open(path) as db:
        async with db.read() as conn:
            async with conn.execute("PRAGMA journal_mode") as cur:
                assert (await cur.fetchone())[0] == "wal"
            async with conn.execute("PRAGMA foreign_keys") as cur:
                assert (await cur.fetchone())[0] == 1
            async with conn.execute("PRAGMA busy_timeout") as cur:
                assert (await cur.fetchone())[0] == storage.db.BUSY_TIMEOUT_MS
        migrations = load_migrations()
        assert await recorded_versions(db) == [m.version for m in migrations]
        assert await db.schema_version() == migrations[-1].version
        async with db.read() as conn, conn.execute("SELECT name FROM schema_migrations ORDER BY version") as cur:
            assert [row[0] for row in await cur.fetchall()] == [m.name for m in migrations]
        assert {"guild_settings", "audit_log", "poems"} <= await tables(db)
    # WAL is a property of the file: another connection sees it too.
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_foreign_keys_are_enforced(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        await conn.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))")
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO child (parent_id) VALUES (42)")


async def test_migrate_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with Database.open(path) as db:
        before = await recorded_versions(db)
        assert await db.migrate() == []
        assert await db.migrate() == []
        assert await recorded_versions(db) == before
    async with Database.open(path) as db:  # re-opening migrates again: nothing to do
        assert await recorded_versions(db) == before


async def test_open_without_migrating_leaves_an_empty_file_at_version_zero(tmp_path: Path) -> None:
    async with Database.open(tmp_path / "t.db", migrate=False) as db:
        assert await db.schema_version() == 0
        assert "poems" not in await tables(db)


# --- failing and future migrations --------------------------------------------------------------------


async def test_failing_migration_leaves_the_previous_version_and_no_partial_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = len(load_migrations())
    half_done = (
        "CREATE TABLE half_done (x INTEGER);\n"
        "INSERT INTO half_done VALUES (1);\n"
        "ALTER TABLE poems ADD COLUMN half_done INTEGER;\n"
        "INSERT INTO no_such_table VALUES (1);\n"
    )
    ship_extra_migrations(monkeypatch, ("half_done", half_done))
    async with Database.open(tmp_path / "t.db", migrate=False) as db:
        with pytest.raises(MigrationError, match="half_done"):
            await db.migrate()
        assert await db.schema_version() == previous
        assert await recorded_versions(db) == list(range(1, previous + 1))
        assert "half_done" not in await tables(db)
        async with db.read() as conn, conn.execute("PRAGMA table_info(poems)") as cur:
            assert "half_done" not in {row["name"] for row in await cur.fetchall()}
        # The connection is not left inside the failed transaction: writing still works.
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO guild_settings (guild_id, updated_at) VALUES (1, 0)")
        # Once the migration is fixed, it applies.
        monkeypatch.undo()
        ship_extra_migrations(monkeypatch, ("half_done", "CREATE TABLE half_done (x INTEGER);\n"))
        assert await db.migrate() == [previous + 1]
        assert "half_done" in await tables(db)


async def test_opening_a_failing_migration_raises_and_closes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ship_extra_migrations(monkeypatch, ("broken", "THIS IS NOT SQL;"))
    with pytest.raises(MigrationError, match="broken"):
        async with Database.open(tmp_path / "t.db"):
            pytest.fail("the database opened despite a failing migration")


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    future = len(load_migrations()) + 1
    async with Database.open(path) as db, db.transaction() as conn:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)", (future,)
        )
    with pytest.raises(NewerSchemaError, match=f"version {future}"):
        async with Database.open(path):
            pytest.fail("a newer database was opened")
    with sqlite3.connect(path) as plain:  # and it was left alone
        assert plain.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == future


# --- upgrading in place -------------------------------------------------------------------------------


async def _write_v1(conn: aiosqlite.Connection) -> None:
    # Raw SQL against the version-1 schema: repository functions follow the latest schema, not this one.
    await conn.execute("INSERT INTO guild_settings (guild_id, moderator_role_id, updated_at) VALUES (10, 77, 1.5)")
    await conn.execute(
        "INSERT INTO audit_log (guild_id, actor_id, action, detail, created_at) "
        "VALUES (10, 5, 'settings.moderator_role', ?, 2.5)",
        ('{"after": 77, "note": "ünïcödé ✨"}',),
    )
    await conn.execute(
        "INSERT INTO poems (guild_id, channel_id, author_id, topic, form, mood, language, text, created_at, "
        "saved_by, saved_at) VALUES (10, 20, 5, 'the sea', 'haiku', 'calm', 'en', 'waves\nfoam\nsalt', 3.5, 5, 4.5)"
    )
    await conn.execute(
        "INSERT INTO poems (guild_id, channel_id, author_id, topic, form, created_at) "
        "VALUES (11, 21, 6, '猫 🐈‍⬛', 'free verse', 5.5)"
    )


async def _write_v2(conn: aiosqlite.Connection) -> None:
    cur = await conn.execute(
        "INSERT INTO stories (guild_id, channel_id, starter_id, title, genre, premise, mode, phase, round, "
        "summary, created_at) VALUES (10, 30, 5, 'Tide 🌊', 'fantasy', 'A lighthouse', 'round-robin', 'turns', 2, "
        "'so far', 6.5) RETURNING id"
    )
    story_id = (await cur.fetchone())[0]
    await cur.close()
    await conn.execute(
        "INSERT INTO story_players (story_id, user_id, name, position, joined_at) VALUES (?, 5, 'Ada', 0, 7.0)",
        (story_id,),
    )
    await conn.execute(
        "INSERT INTO story_turns (story_id, seq, round, kind, author_id, text, tokens, words, created_at) "
        "VALUES (?, 1, 1, 'player', 5, 'The lamp flickered.', 5, 3, 7.5)",
        (story_id,),
    )
    await conn.execute(
        "INSERT INTO lore_entries (guild_id, channel_id, keys, content, author_id, created_at) "
        "VALUES (10, 30, '[\"lighthouse\"]', 'It has stood for 300 years.', 5, 8.0)"
    )


async def _write_v3(conn: aiosqlite.Connection) -> None:
    # 0003 only adds indexes; a pin exercises the new one.
    await conn.execute(
        "INSERT INTO story_pins (story_id, author_id, text, created_at) VALUES (1, 5, 'The lamp never dies.', 9.0)"
    )


async def _write_v4(conn: aiosqlite.Connection) -> None:
    # 0004 records when a vote was opened, and the messages the bot is still writing into.
    await conn.execute(
        "INSERT INTO story_votes (story_id, round, options, deadline, message_id, created_at) "
        'VALUES (1, 2, \'["a", "b"]\', 99.0, NULL, 9.5)'
    )
    await conn.execute(
        "INSERT INTO unfinished_messages (kind, ref_id, channel_id, message_id, interaction_token, started_at) "
        "VALUES ('narration', 1, 30, 123, NULL, 9.75)"
    )


async def _write_poem_craft(conn: aiosqlite.Connection) -> None:
    # poem_craft keeps a poem's acrostic word, its form check and the drafts it was chosen from.
    await conn.execute(
        "INSERT INTO poems (guild_id, channel_id, author_id, topic, form, language, word, text, created_at, drafts, "
        "form_check) VALUES (10, 20, 30, 'moon', 'acrostic', 'en', 'MOON', 'Mist\nOver\nOld\nNight', 11.0, 2, '{}')"
    )
    await conn.execute(
        "INSERT INTO poem_drafts (poem_id, idx, text, score, passed, chosen) "
        "VALUES (last_insert_rowid(), 0, 'Mist', 0.5, 0, 1)"
    )


async def _write_npcs(conn: aiosqlite.Connection) -> None:
    # The NPC migration (npc-speak): an NPC in a scene with a webhook, a memory line, a pin and its own lore.
    await conn.execute(
        "INSERT INTO npcs (guild_id, name, name_key, tags, extensions, extra, creator_id, created_at, updated_at) "
        "VALUES (10, 'Mira ✨', 'mira ✨', '[\"seer\"]', '{\"x\": 1}', '{\"y\": [2]}', 5, 10.0, 10.0)"
    )
    await conn.execute("INSERT INTO npc_scene (channel_id, npc_id, added_by, added_at) VALUES (30, 1, 5, 10.5)")
    await conn.execute("INSERT INTO npc_messages (message_id, npc_id, channel_id, created_at) VALUES (99, 1, 30, 10.7)")
    await conn.execute("INSERT INTO npc_fallback_notices (channel_id, guild_id, created_at) VALUES (31, 10, 10.8)")
    await conn.execute(
        "INSERT INTO npc_webhooks (channel_id, guild_id, webhook_id, token, created_at)"
        " VALUES (30, 10, 77, 'tok', 11.0)"
    )
    await conn.execute(
        "INSERT INTO npc_memory (npc_id, channel_id, speaker_kind, speaker_id, speaker_name, text, tokens, created_at)"
        " VALUES (1, 30, 'player', 5, 'Ada', 'Hello, Mira.', 4, 11.5)"
    )
    await conn.execute(
        "INSERT INTO npc_pins (npc_id, channel_id, text, author_id, created_at) VALUES (1, 30, 'p', 5, 12.0)"
    )
    await conn.execute(
        "INSERT INTO lore_entries (guild_id, channel_id, npc_id, keys, secondary_keys, constant, content, author_id,"
        " created_at) VALUES (10, 0, 1, '[\"marsh\"]', '[]', 1, 'The marsh remembers.', 5, 12.5)"
    )


async def _write_feedback(conn: aiosqlite.Connection) -> None:
    # the feedback migration: a rated poem item, a vote's kept prompt and a preference pair.
    await conn.execute(
        "INSERT INTO feedback_items (guild_id, kind, poem_id, prompt, text, consent, created_at) "
        "VALUES (10, 'poem', 1, '[]', 'Rain.', 1, 10.0)"
    )
    await conn.execute("INSERT INTO feedback_ratings VALUES (1, 5, 1, 1, 10.5)")
    await conn.execute("INSERT INTO feedback_vote_prompts VALUES (1, 10, '[]', 0, 10.75)")
    await conn.execute(
        "INSERT INTO feedback_pairs (guild_id, source, vote_id, prompt, chosen, rejected, consent, created_at) "
        "VALUES (10, 'vote', 1, '[]', 'a', 'b', 0, 11.0)"
    )


async def _write_npc_turns(conn: aiosqlite.Connection) -> None:
    # 0009 (npc_turns): an NPC's line in a story round, and a story told as characters.
    await conn.execute(
        "INSERT INTO story_turns (story_id, seq, round, kind, author_id, text, tokens, words, created_at, speaker) "
        "VALUES (1, 50, 1, 'npc', NULL, 'The lamp remembers.', 4, 3, 20.0, 'Mira ✨')"
    )
    await conn.execute("INSERT INTO story_characters (story_id, as_characters) VALUES (1, 1)")


def _version(name: str) -> int:
    """A migration's number by its name (the lead renumbers migrations when branches merge)."""
    return next(m.version for m in load_migrations() if m.name == name)


async def _write_v5(conn: aiosqlite.Connection) -> None:
    # 0005 (config): the registry's values, server-wide (scope 0) and per channel.
    await conn.execute(
        "INSERT INTO config_values (guild_id, scope_id, key, value, updated_by, updated_at) VALUES "
        "(10, 0, 'blocked_words', '[\"grue\", \"ünïcödé ✨\"]', 5, 10.0), (10, 30, 'poems_enabled', 'false', 5, 10.5)"
    )


# Sample data written right after each migration, in that version's own schema. When a migration is added,
# add a writer for it here: every later migration must keep these rows. (Migrations from parallel branches
# are found by name, as the lead renumbers them at merge.)
WRITERS: dict[int, Callable[[aiosqlite.Connection], Awaitable[None]]] = {
    1: _write_v1,
    2: _write_v2,
    3: _write_v3,
    4: _write_v4,
    5: _write_v5,  # 0005_config
    6: _write_npcs,  # 0006_npcs
    _version("feedback"): _write_feedback,
    _version("poem_craft"): _write_poem_craft,
    _version("npc_turns"): _write_npc_turns,
}


async def _snapshot(db: Database) -> dict[str, list[dict[str, object]]]:
    snapshot = {}
    async with db.read() as conn:
        names = await table_names(conn)
        for name in sorted(n for n in names if n != "schema_migrations" and not n.startswith("sqlite_")):
            async with conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid') as cur:
                snapshot[name] = [dict(row) for row in await cur.fetchall()]
    return snapshot


def test_every_migration_has_sample_data() -> None:
    missing = {m.version for m in load_migrations()} - WRITERS.keys()
    assert not missing, f"add sample rows for migration(s) {sorted(missing)} to WRITERS, for the upgrade test"


@pytest.mark.parametrize("version", [m.version for m in load_migrations()])
async def test_upgrade_from_each_version_keeps_its_rows(tmp_path: Path, version: int) -> None:
    path = tmp_path / "t.db"
    latest = len(load_migrations())
    async with Database.open(path, migrate=False) as db:
        assert await db.migrate(target=version) == list(range(1, version + 1))
        assert await db.schema_version() == version
        for v in range(1, version + 1):
            if v in WRITERS:
                async with db.transaction() as conn:
                    await WRITERS[v](conn)
        before = await _snapshot(db)
    assert sum(len(rows) for rows in before.values()) > 0
    async with Database.open(path) as db:  # re-open with today's code: it upgrades in place
        assert await db.schema_version() == latest
        assert await recorded_versions(db) == list(range(1, latest + 1))
        after = await _snapshot(db)
    for table, rows in before.items():
        assert table in after, f"upgrading from {version} dropped table {table}"
        assert len(after[table]) == len(rows), f"upgrading from {version} changed the row count of {table}"
        for old, new in zip(rows, after[table], strict=True):
            assert {k: new[k] for k in old if k in new} == old


async def test_migrate_to_a_target_then_to_the_latest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One more migration (a column with a default, a new table) than ships today, so `target` stops short.
    latest = ship_extra_migrations(
        monkeypatch,
        (
            "poem_likes",
            "ALTER TABLE poems ADD COLUMN likes INTEGER NOT NULL DEFAULT 0;\n"
            "CREATE TABLE poem_votes (poem_id INTEGER NOT NULL REFERENCES poems (id), voter_id INTEGER NOT NULL);\n",
        ),
    )
    async with Database.open(tmp_path / "t.db", migrate=False) as db:
        assert await db.migrate(target=latest - 1) == list(range(1, latest))
        async with db.transaction() as conn:
            await _write_v1(conn)
        before = await _snapshot(db)
        assert await db.migrate() == [latest]
        after = await _snapshot(db)
    assert after["poem_votes"] == []
    for old, new in zip(before["poems"], after["poems"], strict=True):
        assert new == {**old, "likes": 0}
    assert after["audit_log"] == before["audit_log"]


# --- transactions -------------------------------------------------------------------------------------


async def count_guilds(db: Database) -> int:
    async with db.read() as conn, conn.execute("SELECT COUNT(*) FROM guild_settings") as cur:
        return (await cur.fetchone())[0]


async def test_transaction_commits(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO guild_settings (guild_id, updated_at) VALUES (1, 0)")
    assert await count_guilds(db) == 1


async def test_transaction_rolls_back_on_exception(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO guild_settings (guild_id, updated_at) VALUES (1, 0)")
            raise RuntimeError("boom")
    assert await count_guilds(db) == 0
    async with db.transaction() as conn:  # and the connection is usable again
        await conn.execute("INSERT INTO guild_settings (guild_id, updated_at) VALUES (2, 0)")
    assert await count_guilds(db) == 1


async def test_transaction_rolls_back_on_cancellation(db: Database) -> None:
    inside = asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO guild_settings (guild_id, updated_at) VALUES (1, 0)")
            inside.set()
            await asyncio.Event().wait()  # never set: cancelled here

    task = asyncio.create_task(writer())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await count_guilds(db) == 0
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO guild_settings (guild_id, updated_at) VALUES (2, 0)")
        assert conn.in_transaction
    assert await count_guilds(db) == 1


async def test_concurrent_transactions_serialize(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
        await conn.execute("INSERT INTO counter VALUES (1, 0)")

    async def increment() -> None:
        async with db.transaction() as conn:
            async with conn.execute("SELECT value FROM counter WHERE id = 1") as cur:
                value = (await cur.fetchone())[0]
            await asyncio.sleep(0)  # let every other task run: without serialization, updates get lost
            await conn.execute("UPDATE counter SET value = ? WHERE id = 1", (value + 1,))

    await asyncio.gather(*(increment() for _ in range(50)))
    async with db.read() as conn, conn.execute("SELECT value FROM counter") as cur:
        assert (await cur.fetchone())[0] == 50


async def test_reads_wait_for_an_open_transaction(db: Database) -> None:
    release = asyncio.Event()
    inside = asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO guild_settings (guild_id, updated_at) VALUES (1, 0)")
            inside.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await inside.wait()
    reader = asyncio.create_task(count_guilds(db))
    await asyncio.sleep(0.05)
    assert not reader.done(), "a read ran in the middle of another task's transaction"
    release.set()
    await task
    assert await reader == 1


async def test_the_npc_turns_rebuild_keeps_rows_ids_indexes_and_foreign_keys(tmp_path: Path) -> None:
    """0009 rebuilds story_turns (a new CHECK): every row keeps its id, a narration's feedback still hangs off
    its turn (a DROP with foreign keys on would have cascaded it away), and the keys still cascade after."""
    path = tmp_path / "t.db"
    rebuild = _version("npc_turns")
    async with Database.open(path, migrate=False) as db:
        await db.migrate(target=rebuild - 1)
        async with db.transaction() as conn:
            await _write_v1(conn)
            await _write_v2(conn)
            await conn.execute(
                "INSERT INTO story_turns (id, story_id, seq, round, kind, author_id, text, created_at) "
                "VALUES (41, 1, 2, 1, 'narrator', NULL, 'The sea rose.', 8.0)"
            )
            await conn.execute(
                "INSERT INTO feedback_items (guild_id, kind, turn_id, prompt, text, consent, created_at) "
                "VALUES (10, 'narration', 41, '[]', 'The sea rose.', 1, 8.5)"
            )
        before = await _snapshot(db)
    async with Database.open(path) as db:
        after = await _snapshot(db)
        assert [{k: t[k] for k in before["story_turns"][0]} for t in after["story_turns"]] == before["story_turns"]
        assert after["feedback_items"] == before["feedback_items"], "the rebuild cascaded into feedback"
        async with db.read() as conn:
            async with conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'story_turns'") as cur:
                assert {r[0] for r in await cur.fetchall()} >= {"story_turns_by_round"}
            async with conn.execute("PRAGMA foreign_keys") as cur:
                assert (await cur.fetchone())[0] == 1, "foreign keys are back on after the rebuild"
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO story_turns (story_id, seq, round, kind, text, created_at, speaker)"
                " VALUES (1, 3, 1, 'npc', 'Hm.', 9.0, 'Mira')"
            )
            add_turn = "INSERT INTO story_turns (story_id, seq, round, kind, text, created_at)"
            with pytest.raises(sqlite3.IntegrityError):
                await conn.execute(f"{add_turn} VALUES (1, 4, 1, 'bard', 'x', 9)")
            with pytest.raises(sqlite3.IntegrityError):
                await conn.execute(f"{add_turn} VALUES (999, 1, 1, 'npc', 'x', 9)")
            await conn.execute("DELETE FROM stories WHERE id = 1")
        after = await _snapshot(db)
    assert not after["story_turns"] and not after["feedback_items"], "the keys cascade as before"
