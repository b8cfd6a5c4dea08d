"""Who counts as a moderator on a server, and the settings moderators change (all audited)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.config.service import ConfigService
from storage import guilds
from storage.db import Database
from storage.guilds import AuditEntry, GuildSettings


@dataclass(frozen=True)
class Actor:
    """Who is acting, as far as permissions go: Discord's facts, without Discord's objects."""

    user_id: int
    guild_id: int
    manage_guild: bool
    role_ids: frozenset[int]

    @classmethod
    def of(cls, user_id: int, guild_id: int, manage_guild: bool, role_ids: Iterable[int]) -> Actor:
        return cls(user_id, guild_id, manage_guild, frozenset(role_ids))


class ModerationService:
    """`/settings` kept as a thin alias: the moderator role is the registry's `moderator_role`."""

    def __init__(self, db: Database, config: ConfigService | None = None) -> None:
        self._db = db
        self.config = config or ConfigService(db)

    async def settings(self, guild_id: int) -> GuildSettings:
        return GuildSettings(guild_id, await self.config.get(guild_id, None, "moderator_role"))

    async def is_moderator(self, actor: Actor) -> bool:
        """`Manage Server` permission, or the server's configured moderator role."""
        if actor.manage_guild:
            return True
        role = (await self.settings(actor.guild_id)).moderator_role_id
        return role is not None and role in actor.role_ids

    async def set_moderator_role(self, actor: Actor, role_id: int | None) -> None:
        audit = "settings.moderator_role"
        if role_id is None:
            await self.config.reset(actor, "moderator_role", audit_as=audit)
        else:
            await self.config.set(actor, "moderator_role", role_id, parsed=True, audit_as=audit)

    async def audit_log(self, guild_id: int, limit: int = 15) -> list[AuditEntry]:
        async with self._db.read() as conn:
            return await guilds.recent_audit(conn, guild_id, limit)

    async def record(self, actor: Actor, action: str, **detail: object) -> None:
        async with self._db.transaction() as conn:
            await guilds.audit(conn, actor.guild_id, actor.user_id, action, **detail)
