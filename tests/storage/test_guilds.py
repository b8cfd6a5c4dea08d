"""storage.guilds: per-server settings and the moderators' audit trail."""

from __future__ import annotations

import datetime as dt

import pytest

import storage.config
import storage.guilds
from storage import guilds
from storage.db import Database
from tests.storage.conftest import FakeClock


async def test_settings_default_when_never_set(db: Database) -> None:
    async with db.read() as conn:
        assert await guilds.get_settings(conn, 5) == guilds.GuildSettings(5, None)


async def test_moderator_role_upsert(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(1000.0)
    monkeypatch.setattr(storage.config, "time", clock)  # the role lives in the registry's table now
    async with db.transaction() as conn:
        await guilds.set_moderator_role(conn, 5, 111)
        await guilds.set_moderator_role(conn, 6, 222)
    clock.now = 2000.0
    async with db.transaction() as conn:
        await guilds.set_moderator_role(conn, 5, 333)  # an update, not a second row
    async with db.read() as conn:
        assert await guilds.get_settings(conn, 5) == guilds.GuildSettings(5, 333)
        assert await guilds.get_settings(conn, 6) == guilds.GuildSettings(6, 222)
        async with conn.execute("SELECT guild_id, updated_at FROM config_values ORDER BY guild_id") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [(5, 2000.0), (6, 1000.0)]
    async with db.transaction() as conn:
        await guilds.set_moderator_role(conn, 5, None)  # cleared
    async with db.read() as conn:
        assert await guilds.get_settings(conn, 5) == guilds.GuildSettings(5, None)


async def test_audit_entries_keep_json_detail_with_unicode(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.guilds, "time", FakeClock(1234.5))
    when = dt.datetime(2024, 5, 6, 7, 8, 9)
    async with db.transaction() as conn:
        await guilds.audit(conn, 1, 10, "settings.moderator_role", before=None, after=42)
        await guilds.audit(
            conn, 1, 11, "anthology.remove", topic="Ünïcödé 🌊 «quotes» \"and\" 'more'", tags=["猫", "🐈‍⬛"], at=when
        )
        await guilds.audit(conn, 2, 12, "other.guild")
    async with db.read() as conn:
        entries = await guilds.recent_audit(conn, 1)
        async with conn.execute("SELECT detail FROM audit_log WHERE action = 'anthology.remove'") as cur:
            raw = (await cur.fetchone())[0]
    assert [e.action for e in entries] == ["anthology.remove", "settings.moderator_role"]  # newest first
    newest, oldest = entries
    assert newest.detail == {
        "topic": "Ünïcödé 🌊 «quotes» \"and\" 'more'",
        "tags": ["猫", "🐈‍⬛"],
        "at": str(when),  # not JSON-serializable: stored as text rather than failing the audit
    }
    assert "猫" in raw and "\\u" not in raw  # stored readable, not as \u escapes
    assert (newest.guild_id, newest.actor_id, newest.created_at) == (1, 11, 1234.5)
    assert oldest.detail == {"before": None, "after": 42}


async def test_recent_audit_limit_and_guild_isolation(db: Database) -> None:
    async with db.transaction() as conn:
        for i in range(30):
            await guilds.audit(conn, 1, i, "step", n=i)
        await guilds.audit(conn, 2, 99, "elsewhere")
    async with db.read() as conn:
        latest = await guilds.recent_audit(conn, 1, limit=5)
        default = await guilds.recent_audit(conn, 1)
        empty = await guilds.recent_audit(conn, 3)
    assert [e.detail["n"] for e in latest] == [29, 28, 27, 26, 25]
    assert len(default) == 20
    assert all(e.guild_id == 1 for e in default)
    assert empty == []
