"""cogs.npcs.admission: a plain message reaches NPCs only where NPCs are on and the gate lets it through."""

from __future__ import annotations

from types import SimpleNamespace

from bot.config import ConfigService, Place
from bot.moderation import Actor
from bot.safety.gate import SafetyGate
from bot.safety.limits import UsageLimits
from cogs.npcs.admission import admitted
from storage.db import Database

GUILD, CHANNEL, OTHER, USER = 100, 200, 201, 5
MOD = Actor.of(1, GUILD, True, ())


async def services(db: Database) -> SimpleNamespace:
    return SimpleNamespace(config=ConfigService(db), limits=UsageLimits(), gate=SafetyGate(db))


async def test_npcs_off_in_a_channel_keeps_messages_there_from_npcs_only(db: Database) -> None:
    bot = await services(db)
    await bot.config.set(MOD, "npcs_enabled", "off", channel=Place(GUILD, CHANNEL))
    assert await admitted(bot, Place(GUILD, CHANNEL), USER, "Mira, hello", "npcs", what="m") is None
    settings = await admitted(bot, Place(GUILD, OTHER), USER, "Mira, hello", "npcs", what="m")
    assert settings is not None and settings.npcs_enabled
    # A thread reads its parent's switch.
    assert await admitted(bot, Place(GUILD, 999, CHANNEL), USER, "Mira, hello", "npcs", what="m") is None


async def test_blocked_words_keep_a_message_from_npcs_and_are_audited(db: Database) -> None:
    bot = await services(db)
    await bot.config.set(MOD, "blocked_words", "grue")
    assert await admitted(bot, Place(GUILD, CHANNEL), USER, "Mira, is the G\u200brue near?", "npcs", what="m") is None
    assert await admitted(bot, Place(GUILD, CHANNEL), USER, "Mira, is the wolf near?", "npcs", what="m") is not None
    async with db.read() as conn, conn.execute("SELECT action FROM audit_log WHERE action LIKE 'safety.%'") as c:
        assert [r[0] for r in await c.fetchall()] == ["safety.input_refused"]


async def test_taleweaver_inactive_in_a_channel_takes_nothing(db: Database) -> None:
    bot = await services(db)
    await bot.config.set(MOD, "active", "off", channel=Place(GUILD, CHANNEL))
    assert await admitted(bot, Place(GUILD, CHANNEL), USER, "Mira, hello", "npcs", what="m") is None
