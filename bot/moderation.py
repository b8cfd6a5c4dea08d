"""Who counts as a moderator on a server, and the settings moderators change (all audited)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import NotAllowed
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
    def __init__(self, db: Database) -> None:
        self._db = db

    async def settings(self, guild_id: int) -> GuildSettings:
        async with self._db.read() as conn:
            return await guilds.get_settings(conn, guild_id)

    async def is_moderator(self, actor: Actor) -> bool:
        """`Manage Server` permission, or the server's configured moderator role."""
        if actor.manage_guild:
            return True
        role = (await self.settings(actor.guild_id)).moderator_role_id
        return role is not None and role in actor.role_ids

    async def set_moderator_role(self, actor: Actor, role_id: int | None) -> None:
        if role_id == actor.guild_id:  # Discord gives the @everyone role the server's own id
            raise NotAllowed(
                "@everyone cannot be the moderator role: every member of the server would moderate Taleweaver. "
                "Pick a role that only your moderators have."
            )
        async with self._db.transaction() as conn:
            before = (await guilds.get_settings(conn, actor.guild_id)).moderator_role_id
            await guilds.set_moderator_role(conn, actor.guild_id, role_id)
            await guilds.audit(
                conn, actor.guild_id, actor.user_id, "settings.moderator_role", before=before, after=role_id
            )

    async def audit_log(self, guild_id: int, limit: int = 15) -> list[AuditEntry]:
        async with self._db.read() as conn:
            return await guilds.recent_audit(conn, guild_id, limit)

    async def record(self, actor: Actor, action: str, **detail: object) -> None:
        async with self._db.transaction() as conn:
            await guilds.audit(conn, actor.guild_id, actor.user_id, action, **detail)
