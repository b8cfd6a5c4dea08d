"""How the audit log reads: who did what, where, with ids shown as mentions or names, never as numbers."""

from __future__ import annotations

from collections.abc import Callable

from bot.text import quote, truncate
from storage.guilds import AuditEntry

USERS = frozenset({"starter", "author", "user"})
NUMBERED = frozenset({"entry", "pin", "poem_id", "turn"})
ROLE_ACTIONS = frozenset({"settings.moderator_role"})  # their before/after are role ids
ROLE_KEYS = frozenset({"moderator_role", "story_starter_role"})  # /config entries whose values are role ids
LINE_LIMIT = 400
LOG_LIMIT = 4000  # an embed description holds 4,096

RoleName = Callable[[int], str | None]


def render_log(entries: list[AuditEntry], role_name: RoleName) -> str:
    """Newest first, whole lines only: a line cut in half could cut a mention in half."""
    lines: list[str] = []
    for entry in entries:
        line = render_entry(entry, role_name)
        if sum(len(x) + 1 for x in lines) + len(line) > LOG_LIMIT:
            break
        lines.append(line)
    return "\n".join(lines)


def render_entry(entry: AuditEntry, role_name: RoleName) -> str:
    """One line: when, who, the action, then each detail as `key: value`."""
    roles = entry.action in ROLE_ACTIONS or entry.detail.get("key") in ROLE_KEYS
    details = " · ".join(f"{key}: {_value(roles, key, value, role_name)}" for key, value in entry.detail.items())
    line = f"<t:{int(entry.created_at)}:R> <@{entry.actor_id}> **{entry.action}**"
    return truncate(f"{line} {details}" if details else line, LINE_LIMIT)


def _value(roles: bool, key: str, value: object, role_name: RoleName) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key in ("key", "scope") and isinstance(value, str) and value.replace("_", "").isalnum():
        return f"`{value}`"  # a setting's name, as /config spells it
    if isinstance(value, int) and not isinstance(value, bool):
        if key == "channel":
            return f"<#{value}>"
        if key in USERS:
            return f"<@{value}>"
        if key == "role" or (roles and key in ("before", "after")):
            name = role_name(value)
            return f"**{quote(name, 40)}**" if name else "a deleted role"
        return f"#{value}" if key in NUMBERED else str(value)
    if isinstance(value, list):
        return ", ".join(quote(str(v), 40) for v in value)
    return f"“{quote(str(value), 60)}”"
