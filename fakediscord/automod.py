"""AutoMod rules: `/guilds/{id}/auto-moderation/rules` (GET, POST, PATCH, DELETE) and the
AUTO_MODERATION_RULE_CREATE/UPDATE/DELETE gateway events, as Discord has them.

Every route needs MANAGE_GUILD (`50013` otherwise), like Discord. Tests add rules as a moderator
would in Discord's settings with ``fake.add_automod_rule(guild, "name", keywords=[...])``: the rule is
stored and the create event dispatched to the bot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import APIError, missing_permissions, not_found
from .models import JSON, Guild
from .permissions import MANAGE_GUILD, base_permissions
from .rest import ApiRequest, RouteTable
from .store import Store

routes = RouteTable()

KEYWORD, SPAM, KEYWORD_PRESET, MENTION_SPAM = 1, 3, 4, 5
BLOCK_MESSAGE = {"type": 1, "metadata": {}}
KEYWORD_LIMIT, KEYWORD_LENGTH, REGEX_LIMIT, REGEX_LENGTH, ALLOW_LIMIT = 1000, 60, 10, 260, 100


def _rules(store: Store) -> dict[int, JSON]:
    return store.automod_rules


def _check_metadata(metadata: JSON) -> None:
    errors: dict[str, Any] = {}
    for key, limit, length in (
        ("keyword_filter", KEYWORD_LIMIT, KEYWORD_LENGTH),
        ("regex_patterns", REGEX_LIMIT, REGEX_LENGTH),
        ("allow_list", ALLOW_LIMIT, KEYWORD_LENGTH),
    ):
        values = metadata.get(key) or []
        if len(values) > limit or any(len(v) > length for v in values):
            errors[key] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Too many or too long {key}"}]}
    if errors:
        raise APIError(400, 50035, "Invalid Form Body", {"trigger_metadata": errors})


class AutoModActions:
    """Mixed into ``FakeDiscord``: what a moderator does in Discord's AutoMod settings."""

    def add_automod_rule(
        self,
        guild: Guild,
        name: str,
        *,
        keywords: Iterable[str] = (),
        regex: Iterable[str] = (),
        allow: Iterable[str] = (),
        enabled: bool = True,
        trigger_type: int = KEYWORD,
        creator: int | None = None,
    ) -> JSON:
        store: Store = self  # type: ignore[assignment]
        metadata = {"keyword_filter": list(keywords), "regex_patterns": list(regex), "allow_list": list(allow)}
        _check_metadata(metadata)
        rule = {
            "id": str(store.ids.next()),
            "guild_id": str(guild.id),
            "name": name,
            "creator_id": str(creator or guild.owner_id),
            "event_type": 1,
            "trigger_type": trigger_type,
            "trigger_metadata": metadata if trigger_type == KEYWORD else {},
            "actions": [BLOCK_MESSAGE],
            "enabled": enabled,
            "exempt_roles": [],
            "exempt_channels": [],
        }
        _rules(store)[int(rule["id"])] = rule
        store.dispatch("AUTO_MODERATION_RULE_CREATE", rule)
        return rule

    def edit_automod_rule(self, rule: JSON, **changes: Any) -> JSON:
        """Change `name`, `enabled`, or `keywords`/`regex`/`allow` (replacing the lists)."""
        store: Store = self  # type: ignore[assignment]
        stored = _rules(store)[int(rule["id"])]
        metadata = dict(stored["trigger_metadata"])
        for key, field in (("keywords", "keyword_filter"), ("regex", "regex_patterns"), ("allow", "allow_list")):
            if key in changes:
                metadata[field] = list(changes.pop(key))
        _check_metadata(metadata)
        stored.update(changes, trigger_metadata=metadata)
        store.dispatch("AUTO_MODERATION_RULE_UPDATE", stored)
        return stored

    def remove_automod_rule(self, rule: JSON) -> None:
        store: Store = self  # type: ignore[assignment]
        stored = _rules(store).pop(int(rule["id"]))
        store.dispatch("AUTO_MODERATION_RULE_DELETE", stored)


def _guild_for_automod(store: Store, req: ApiRequest) -> Guild:
    guild = store.guilds.get(req.id("guild_id"))
    if guild is None or store.bot.id not in guild.members:
        raise not_found("Guild", 10004)
    if base_permissions(guild, store.bot.id) & MANAGE_GUILD != MANAGE_GUILD:
        raise missing_permissions()
    return guild


def _rule(store: Store, guild: Guild, req: ApiRequest) -> JSON:
    rule = _rules(store).get(req.id("rule_id"))
    if rule is None or int(rule["guild_id"]) != guild.id:
        raise not_found("Auto Moderation Rule", 10066)
    return rule


@routes("GET", "/guilds/{guild_id}/auto-moderation/rules")
async def list_rules(store: Store, req: ApiRequest) -> list[JSON]:
    guild = _guild_for_automod(store, req)
    return [r for r in _rules(store).values() if int(r["guild_id"]) == guild.id]


@routes("GET", "/guilds/{guild_id}/auto-moderation/rules/{rule_id}")
async def get_rule(store: Store, req: ApiRequest) -> JSON:
    return _rule(store, _guild_for_automod(store, req), req)


@routes("POST", "/guilds/{guild_id}/auto-moderation/rules")
async def create_rule(store: Store, req: ApiRequest) -> JSON:
    guild = _guild_for_automod(store, req)
    body = req.body or {}
    missing = [k for k in ("name", "event_type", "trigger_type", "actions") if k not in body]
    if missing:
        required = {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}
        raise APIError(400, 50035, "Invalid Form Body", dict.fromkeys(missing, required))
    metadata = body.get("trigger_metadata") or {}
    return AutoModActions.add_automod_rule(
        store,  # type: ignore[arg-type]
        guild,
        body["name"],
        keywords=metadata.get("keyword_filter") or (),
        regex=metadata.get("regex_patterns") or (),
        allow=metadata.get("allow_list") or (),
        enabled=bool(body.get("enabled", False)),
        trigger_type=int(body["trigger_type"]),
        creator=store.bot.id,
    )


@routes("PATCH", "/guilds/{guild_id}/auto-moderation/rules/{rule_id}")
async def edit_rule(store: Store, req: ApiRequest) -> JSON:
    rule = _rule(store, _guild_for_automod(store, req), req)
    body = req.body or {}
    metadata = body.get("trigger_metadata") or {}
    changes: dict[str, Any] = {k: body[k] for k in ("name", "enabled") if k in body}
    for key, field in (("keywords", "keyword_filter"), ("regex", "regex_patterns"), ("allow", "allow_list")):
        if field in metadata:
            changes[key] = metadata[field]
    return AutoModActions.edit_automod_rule(store, rule, **changes)  # type: ignore[arg-type]


@routes("DELETE", "/guilds/{guild_id}/auto-moderation/rules/{rule_id}")
async def delete_rule(store: Store, req: ApiRequest) -> None:
    rule = _rule(store, _guild_for_automod(store, req), req)
    AutoModActions.remove_automod_rule(store, rule)  # type: ignore[arg-type]
