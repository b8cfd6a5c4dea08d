"""bot.config: declarations, resolution (channel > parent > server > default), validation, audit, restarts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import SETTINGS, ConfigService, ConfigSnapshot, InvalidValue, Place
from bot.engine_client import EngineUnavailable
from bot.errors import NotAllowed
from bot.moderation import Actor, ModerationService
from storage.db import Database

GUILD, CHANNEL, THREAD, OTHER = 100, 200, 300, 400
MOD = Actor.of(1, GUILD, True, ())
ROLE_MOD = Actor.of(2, GUILD, False, (7000,))


@pytest.fixture
def config(db: Database) -> ConfigService:
    return ConfigService(db)


def test_every_declaration_has_a_snapshot_field_and_a_valid_default() -> None:
    fields = {f.name for f in dataclasses.fields(ConfigSnapshot)} - {"origins"}
    assert fields == {s.key for s in SETTINGS}
    assert len({s.key for s in SETTINGS}) == len(SETTINGS), "a key is declared twice"
    for setting in SETTINGS:
        assert setting.check(setting.default) == setting.default, setting.key
        assert setting.doc and setting.allowed(), setting.key


async def test_defaults_resolve_with_their_origin(config: ConfigService) -> None:
    snap = await config.resolve(GUILD, CHANNEL)
    assert snap.content_rating == "sfw" and snap.training_consent is False and snap.model_adapter == ""
    assert set(snap.origins.values()) == {"default"}
    assert await config.get(GUILD, None, "training_consent") is False


async def test_channel_beats_parent_beats_server_beats_default(config: ConfigService) -> None:
    await config.set(MOD, "poems_cooldown", "30")
    assert (await config.resolve(GUILD, THREAD, parent_id=CHANNEL)).poems_cooldown == 30
    await config.set(MOD, "poems_cooldown", "60s", channel=Place(GUILD, CHANNEL))
    thread = await config.resolve(GUILD, THREAD, parent_id=CHANNEL)
    assert (thread.poems_cooldown, thread.origins["poems_cooldown"]) == (60, "parent")
    await config.set(MOD, "poems_cooldown", "5", channel=Place(GUILD, THREAD, CHANNEL))
    thread = await config.resolve(GUILD, THREAD, parent_id=CHANNEL)
    assert (thread.poems_cooldown, thread.origins["poems_cooldown"]) == (5, "channel")
    other = await config.resolve(GUILD, OTHER)
    assert (other.poems_cooldown, other.origins["poems_cooldown"]) == (30, "server")
    assert (await config.resolve(GUILD + 1, CHANNEL)).poems_cooldown == 0, "another server is untouched"
    await config.reset(MOD, "poems_cooldown", channel=Place(GUILD, THREAD, CHANNEL))
    assert (await config.resolve(GUILD, THREAD, parent_id=CHANNEL)).poems_cooldown == 60


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("poems_cooldown", "-1", "from 0 to 3600s"),
        ("poems_cooldown", "soon", "whole number"),
        ("temperature", "2.5", "from 0 to 2"),
        ("temperature", "nan", "from 0 to 2"),
        ("content_rating", "spicy", "one of: sfw, mature"),
        ("blocked_output_action", "burn", "redact, withhold"),
        ("active", "maybe", "`true` or `false`"),
        ("style_note", "x" * 301, "limit is 300"),
        ("no_such_key", "1", "no setting called"),
    ],
)
async def test_invalid_values_name_what_is_allowed(config: ConfigService, key: str, value: str, says: str) -> None:
    with pytest.raises((InvalidValue, ValueError), match=says.replace("(", r"\(")):
        await config.set(MOD, key, value)
    assert not (await config.history(GUILD)).entries, "a refused change is not audited"


async def test_server_wide_settings_refuse_a_channel(config: ConfigService) -> None:
    with pytest.raises(InvalidValue, match="server-wide"):
        await config.set(MOD, "blocked_words", "grue", channel=Place(GUILD, CHANNEL))


async def test_mature_only_in_age_restricted_channels(config: ConfigService) -> None:
    with pytest.raises(InvalidValue, match="age-restricted"):
        await config.set(MOD, "content_rating", "mature", channel=Place(GUILD, CHANNEL, nsfw=False))
    await config.set(MOD, "content_rating", "mature", channel=Place(GUILD, CHANNEL, nsfw=True))
    assert (await config.resolve(GUILD, CHANNEL, nsfw=True)).content_rating == "mature"
    # An overridden-up value is ignored where the channel is not (or no longer) age-restricted.
    assert (await config.resolve(GUILD, CHANNEL, nsfw=False)).content_rating == "sfw"
    change = await config.set(MOD, "content_rating", "mature")
    assert "only in age-restricted" in change.note
    assert (await config.resolve(GUILD, OTHER, nsfw=False)).content_rating == "sfw"


async def test_owner_only_settings(config: ConfigService) -> None:
    with pytest.raises(NotAllowed, match="Manage Server"):
        await config.set(ROLE_MOD, "moderator_role", "<@&123456789012345678>")
    change = await config.set(MOD, "moderator_role", "<@&123456789012345678>")
    assert change.after == 123456789012345678
    with pytest.raises(NotAllowed, match="@everyone"):
        await config.set(MOD, "moderator_role", GUILD, parsed=True)  # @everyone's role id is the server's id


async def test_blocked_words_parse_dedupe_and_clear(config: ConfigService) -> None:
    change = await config.set(MOD, "blocked_words", "grue, Dark Lord,\ngrue , \u202eevil")
    assert change.after == ["grue", "Dark Lord", "evil"]
    await config.set(MOD, "blocked_words", "none")
    assert (await config.resolve(GUILD)).blocked_words == []


async def test_every_change_is_audited_with_scope_and_before_after(config: ConfigService) -> None:
    await config.set(MOD, "length", "100")
    await config.set(MOD, "length", "120")
    await config.set(MOD, "poems_enabled", "off", channel=Place(GUILD, CHANNEL))
    await config.reset(MOD, "length")
    await config.reset(MOD, "length")  # nothing to reset: no entry
    page = await config.history(GUILD)
    assert page.total == 4
    assert [(e.action, e.detail) for e in page.entries] == [
        ("config.reset", {"key": "length", "scope": "server", "before": 120, "after": None}),
        ("config.set", {"key": "poems_enabled", "channel": CHANNEL, "before": None, "after": False}),
        ("config.set", {"key": "length", "scope": "server", "before": 100, "after": 120}),
        ("config.set", {"key": "length", "scope": "server", "before": None, "after": 100}),
    ]
    assert all(e.actor_id == MOD.user_id for e in page.entries)


async def test_history_pages(config: ConfigService) -> None:
    for n in range(23):
        await config.set(MOD, "length", str(100 + n))
    last = await config.history(GUILD, page=99)
    assert (last.page, last.pages, last.total, len(last.entries)) == (3, 3, 23, 3)
    assert last.entries[-1].detail["after"] == 100


async def test_model_adapter_checked_against_the_engine_when_reachable(db: Database) -> None:
    async def names() -> list[str]:
        return ["default", "tavern-lora"]

    async def unreachable() -> list[str]:
        raise EngineUnavailable("down")

    config = ConfigService(db, names)
    with pytest.raises(InvalidValue, match="It serves: default, tavern-lora"):
        await config.set(MOD, "model_adapter", "nope")
    await config.set(MOD, "model_adapter", "tavern-lora")
    assert await config.get(GUILD, None, "model_adapter") == "tavern-lora"
    await ConfigService(db, unreachable).set(MOD, "model_adapter", "later-lora")  # cannot check: accepted


async def test_settings_survive_a_restart_and_changes_apply_at_once(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with Database.open(path) as db:
        first, second = ConfigService(db), ConfigService(db)
        assert (await second.resolve(GUILD)).max_concurrent == 4  # cached now
        await first.set(MOD, "max_concurrent", "2")
        assert (await first.resolve(GUILD)).max_concurrent == 2, "the writer's cache is invalidated"
    async with Database.open(path) as db:
        assert (await ConfigService(db).resolve(GUILD)).max_concurrent == 2


async def test_moderation_settings_are_a_thin_alias(db: Database) -> None:
    config = ConfigService(db)
    moderation = ModerationService(db, config)
    await moderation.set_moderator_role(MOD, 7000)
    assert await config.get(GUILD, None, "moderator_role") == 7000
    assert await moderation.is_moderator(ROLE_MOD)
    await config.reset(MOD, "moderator_role")
    assert not await moderation.is_moderator(ROLE_MOD), "the alias reads the registry at once"


async def test_the_migration_carries_over_the_moderator_role(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with Database.open(path, migrate=False) as db:
        await db.migrate(target=await _version_before_config(db))
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO guild_settings VALUES (?, ?, ?)", (GUILD, 7000, 1.0))
        await db.migrate()
        assert await ConfigService(db).get(GUILD, None, "moderator_role") == 7000
        assert await ModerationService(db).is_moderator(ROLE_MOD)


async def _version_before_config(db: Database) -> int:
    from storage.db import load_migrations

    return next(m.version for m in load_migrations() if m.name == "config") - 1


def test_the_readme_and_help_document_every_setting_and_command() -> None:
    from cogs.admin.help import SECTIONS, render_section

    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    missing = [s.key for s in SETTINGS if f"| `{s.key}` |" not in readme]
    assert not missing, f"add these settings to the README's table: {missing}"
    helped = "\n".join(render_section(s) for s in SECTIONS)
    assert all(f"/config {c}" in helped for c in ("show", "set", "reset", "history"))
    assert all(len(render_section(s)) <= 4096 for s in SECTIONS)
