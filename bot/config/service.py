"""The configuration registry: resolve settings (channel > parent channel > server > default), change
them with validation and an audit entry, and keep a per-server cache that every change invalidates."""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.config.catalog import BY_KEY, SETTINGS
from bot.config.snapshot import CHANNEL, DEFAULT, PARENT, SERVER, ConfigSnapshot, Place
from bot.config.types import InvalidValue, Setting
from bot.engine_client import EngineError
from bot.errors import NotAllowed
from storage import config as repo
from storage import guilds
from storage.db import Database
from storage.guilds import AuditEntry

if TYPE_CHECKING:
    from bot.moderation import Actor

log = logging.getLogger(__name__)

Stored = dict[tuple[int, str], Any]  # (scope id, key) -> typed value, for one server
_CACHES: weakref.WeakKeyDictionary[Database, dict[int, Stored]] = weakref.WeakKeyDictionary()
ModelNames = Callable[[], Awaitable[list[str]]]  # the engine's /v1/models; raises when unreachable
AUDIT_PREFIXES = ("config.", "settings.")
HISTORY_PAGE = 10


@dataclass(frozen=True)
class Change:
    setting: Setting
    channel_id: int | None  # None: server-wide
    before: Any
    after: Any  # None after a reset: the value falls back to the next level
    note: str = ""  # something the moderator should know (e.g. mature applies only in age-restricted channels)


@dataclass(frozen=True)
class HistoryPage:
    entries: list[AuditEntry]
    page: int
    pages: int
    total: int


class ConfigService:
    def __init__(self, db: Database, model_names: ModelNames | None = None) -> None:
        self._db = db
        self._model_names = model_names
        # Shared by every ConfigService over the same database, so a change made through one is seen by all.
        self._cache = _CACHES.setdefault(db, {})

    # --- reading ------------------------------------------------------------------------------------
    async def get(
        self, guild_id: int, channel_id: int | None, key: str, *, parent_id: int | None = None, nsfw: bool = False
    ) -> Any:
        """One setting's effective value, e.g. `await bot.config.get(guild_id, None, "training_consent")`."""
        return getattr(await self.resolve(guild_id, channel_id, parent_id=parent_id, nsfw=nsfw), key)

    async def resolve(
        self, guild_id: int, channel_id: int | None = None, *, parent_id: int | None = None, nsfw: bool = False
    ) -> ConfigSnapshot:
        return await self.at(Place(guild_id, channel_id, parent_id, nsfw))

    async def at(self, place: Place) -> ConfigSnapshot:
        stored = await self._stored(place.guild_id)
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for setting in SETTINGS:
            values[setting.key], origins[setting.key] = _pick(setting, stored, place)
        if values["content_rating"] == "mature" and not place.nsfw:
            values["content_rating"] = "sfw"  # mature is honoured only in age-restricted channels
        return ConfigSnapshot(**values, origins=origins)

    async def overrides(self, guild_id: int, channel_id: int) -> dict[str, Any]:
        """The values set on one channel (or thread) itself."""
        stored = await self._stored(guild_id)
        return {key: value for (scope, key), value in stored.items() if scope == channel_id}

    async def _stored(self, guild_id: int) -> dict[tuple[int, str], Any]:
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        async with self._db.read() as conn:
            rows = await repo.values(conn, guild_id)
        stored: dict[tuple[int, str], Any] = {}
        for row in rows:
            setting = BY_KEY.get(row.key)
            if setting is None:
                continue  # a setting a newer or older Taleweaver declared: ignored, kept
            try:
                stored[(row.scope_id, row.key)] = setting.load(row.value)
            except (InvalidValue, ValueError):
                log.warning("ignoring the stored value of %s in guild %s (scope %s)", row.key, guild_id, row.scope_id)
        self._cache[guild_id] = stored
        return stored

    # --- changing -----------------------------------------------------------------------------------
    def setting(self, key: str) -> Setting:
        setting = BY_KEY.get(key.strip().casefold())
        if setting is None:
            raise InvalidValue(f"There is no setting called “{key[:60]}”. `/config show` lists them all.")
        return setting

    async def set(
        self, actor: Actor, key: str, value: Any, *, channel: Place | None = None, parsed: bool = False,
        audit_as: str | None = None,
    ) -> Change:  # fmt: skip
        """Set a value (a moderator's text, or an already typed value with `parsed`), server-wide or, with
        `channel`, for that channel and its threads. Raises InvalidValue/NotAllowed with what to do."""
        setting = self.setting(key)
        self._check_scope(actor, setting, channel)
        new = setting.check(value) if parsed else setting.parse(str(value))
        note = await self._validate(actor, setting, new, channel)
        scope = channel.channel_id if channel and channel.channel_id else repo.SERVER
        async with self._db.transaction() as conn:
            old = await repo.get(conn, actor.guild_id, scope, setting.key)
            before = setting.load(old) if old is not None else None
            await repo.put(conn, actor.guild_id, scope, setting.key, setting.dump(new), actor.user_id)
            await self._audit(conn, actor, setting, scope, before, new, audit_as or "config.set")
        self._cache.pop(actor.guild_id, None)
        return Change(setting, scope or None, before, new, note)

    async def reset(
        self, actor: Actor, key: str, *, channel: Place | None = None, audit_as: str | None = None
    ) -> Change:
        """Remove a value, so the level below (parent, server or default) applies again."""
        setting = self.setting(key)
        self._check_scope(actor, setting, channel)
        scope = channel.channel_id if channel and channel.channel_id else repo.SERVER
        async with self._db.transaction() as conn:
            old = await repo.get(conn, actor.guild_id, scope, setting.key)
            before = setting.load(old) if old is not None else None
            if old is not None:
                await repo.delete(conn, actor.guild_id, scope, setting.key)
                await self._audit(conn, actor, setting, scope, before, None, audit_as or "config.reset")
        self._cache.pop(actor.guild_id, None)
        return Change(setting, scope or None, before, None)

    async def history(self, guild_id: int, page: int = 1) -> HistoryPage:
        async with self._db.read() as conn:
            first, total = await guilds.audit_page(conn, guild_id, AUDIT_PREFIXES, limit=HISTORY_PAGE, offset=0)
            pages = max(1, math.ceil(total / HISTORY_PAGE))
            page = min(max(1, page), pages)
            if page > 1:
                first, total = await guilds.audit_page(
                    conn, guild_id, AUDIT_PREFIXES, limit=HISTORY_PAGE, offset=(page - 1) * HISTORY_PAGE
                )
        return HistoryPage(first, page, pages, total)

    def _check_scope(self, actor: Actor, setting: Setting, channel: Place | None) -> None:
        if setting.owner_only and not actor.manage_guild:
            raise NotAllowed(f"Only members with the Manage Server permission can change `{setting.key}`.")
        if channel is not None and channel.channel_id and not setting.channel:
            raise InvalidValue(f"`{setting.key}` is server-wide: set it without a channel.")

    async def _validate(self, actor: Actor, setting: Setting, value: Any, channel: Place | None) -> str:
        if setting.key == "moderator_role" and value == actor.guild_id:
            raise NotAllowed(
                "@everyone cannot be the moderator role: every member of the server would moderate Taleweaver. "
                "Pick a role that only your moderators have."
            )
        if setting.key == "content_rating" and value == "mature":
            if channel is not None and channel.channel_id:
                if not channel.nsfw:
                    raise InvalidValue(
                        "`mature` is allowed only in age-restricted channels. Mark the channel as age-restricted "
                        "in its settings first, or keep it `sfw`."
                    )
                return ""
            return "Mature content applies only in age-restricted channels; everywhere else stays `sfw`."
        if setting.key == "model_adapter" and value:
            await self._check_model(value)
        return ""

    async def _check_model(self, name: str) -> None:
        if self._model_names is None:
            return
        try:
            names = await self._model_names()
        except EngineError:  # an unreachable engine cannot veto; the name is checked when it is used
            log.info("engine unreachable: model_adapter %r accepted unchecked", name)
            return
        if name not in names:
            shown = ", ".join(names[:10]) or "none"
            raise InvalidValue(f"The engine has no model or adapter called “{name[:60]}”. It serves: {shown}.")

    async def _audit(
        self, conn: Any, actor: Actor, setting: Setting, scope: int, before: Any, after: Any, action: str
    ) -> None:
        if action.startswith("settings."):  # the /settings aliases keep their established entry
            await guilds.audit(conn, actor.guild_id, actor.user_id, action, before=before, after=after)
            return
        where: dict[str, Any] = {"channel": scope} if scope else {"scope": "server"}
        await guilds.audit(
            conn, actor.guild_id, actor.user_id, action, key=setting.key, **where, before=before, after=after
        )


def _pick(setting: Setting, stored: dict[tuple[int, str], Any], place: Place) -> tuple[Any, str]:
    key = setting.key
    if setting.channel:
        if place.channel_id and (place.channel_id, key) in stored:
            return stored[(place.channel_id, key)], CHANNEL
        if place.parent_id and (place.parent_id, key) in stored:
            return stored[(place.parent_id, key)], PARENT
    if (repo.SERVER, key) in stored:
        return stored[(repo.SERVER, key)], SERVER
    return setting.default, DEFAULT


def defaults() -> ConfigSnapshot:
    """Every setting at its default: what a feature uses when it is run without the registry (unit tests)."""
    return ConfigSnapshot(**{s.key: s.default for s in SETTINGS}, origins={s.key: DEFAULT for s in SETTINGS})
