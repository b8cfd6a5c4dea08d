"""REST routes for identity, application commands, guilds, members, roles, channels and threads."""

from __future__ import annotations

from typing import Any

from . import payloads
from .errors import APIError, missing_permissions, not_found, unknown_channel
from .messaging import create_message, create_thread
from .models import JSON, Channel, ChannelType, Guild
from .permissions import (
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    MANAGE_CHANNELS,
    MANAGE_ROLES,
    MANAGE_THREADS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
)
from .rest import ApiRequest, RouteTable
from .store import Store

routes = RouteTable()

# -- identity -------------------------------------------------------------------------------------


@routes("GET", "/users/@me")
async def get_me(store: Store, req: ApiRequest) -> JSON:
    return {**payloads.user(store.bot), "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}


@routes("GET", "/users/{user_id}")
async def get_user(store: Store, req: ApiRequest) -> JSON:
    user = store.users.get(req.id("user_id"))
    if user is None:
        raise not_found("User", 10013)
    return payloads.user(user)


@routes("POST", "/users/@me/channels")
async def create_dm(store: Store, req: ApiRequest) -> JSON:
    uid = int(req.body.get("recipient_id") or 0)
    if uid not in store.users:
        raise not_found("User", 10013)
    return payloads.channel(store, store.dm_channel(uid))


@routes("GET", "/gateway", auth=False)
async def get_gateway(store: Store, req: ApiRequest) -> JSON:
    return {"url": store.base_url.replace("http://", "ws://", 1)}


@routes("GET", "/gateway/bot")
async def get_gateway_bot(store: Store, req: ApiRequest) -> JSON:
    limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
    url = store.base_url.replace("http://", "ws://", 1)
    return {"url": url, "shards": store.recommended_shards, "session_start_limit": limit}


def _application(store: Store) -> JSON:
    return {
        "id": str(store.application_id),
        "name": store.bot.name,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": payloads.user(next(iter(u for u in store.users.values() if not u.bot), store.bot)),
        "team": None,
        "flags": (1 << 13) | (1 << 15) | (1 << 19),
        "bot": payloads.user(store.bot),
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
    }


@routes("GET", "/oauth2/applications/@me")
async def get_application_oauth(store: Store, req: ApiRequest) -> JSON:
    return _application(store)


@routes("GET", "/applications/@me")
async def get_application(store: Store, req: ApiRequest) -> JSON:
    return _application(store)


# -- application commands ------------------------------------------------------------------------


def _scope(store: Store, req: ApiRequest) -> int | None:
    if req.id("application_id") != store.application_id:
        raise APIError(403, 50001, "Missing Access")
    if "guild_id" not in req.params:
        return None
    guild_id = req.id("guild_id")
    if guild_id not in store.guilds:
        raise APIError(403, 50001, "Missing Access")
    return guild_id


for _base in ("/applications/{application_id}", "/applications/{application_id}/guilds/{guild_id}"):

    @routes("GET", _base + "/commands")
    async def list_commands(store: Store, req: ApiRequest) -> list[JSON]:
        return [payloads.command(c) for c in store.commands.registered(_scope(store, req))]

    @routes("PUT", _base + "/commands")
    async def bulk_overwrite(store: Store, req: ApiRequest) -> list[JSON]:
        items = req.json if isinstance(req.json, list) else []
        return [payloads.command(c) for c in store.commands.bulk_overwrite(_scope(store, req), items)]

    @routes("POST", _base + "/commands")
    async def create_command(store: Store, req: ApiRequest) -> JSON:
        return payloads.command(store.commands.upsert(_scope(store, req), req.body))

    @routes("GET", _base + "/commands/{command_id}")
    async def get_command(store: Store, req: ApiRequest) -> JSON:
        return payloads.command(store.commands.get(_scope(store, req), req.id("command_id")))

    @routes("PATCH", _base + "/commands/{command_id}")
    async def edit_command(store: Store, req: ApiRequest) -> JSON:
        return payloads.command(store.commands.edit(_scope(store, req), req.id("command_id"), req.body))

    @routes("DELETE", _base + "/commands/{command_id}")
    async def delete_command(store: Store, req: ApiRequest) -> None:
        store.commands.delete(_scope(store, req), req.id("command_id"))


@routes("GET", "/applications/{application_id}/guilds/{guild_id}/commands/permissions")
async def command_permissions(store: Store, req: ApiRequest) -> list[JSON]:
    _scope(store, req)
    return []


# -- guilds, members, roles ----------------------------------------------------------------------


def _guild(store: Store, req: ApiRequest) -> Guild:
    guild = store.guilds.get(req.id("guild_id"))
    if guild is None or store.bot.id not in guild.members:
        raise not_found("Guild", 10004)
    return guild


@routes("GET", "/guilds/{guild_id}")
async def get_guild(store: Store, req: ApiRequest) -> JSON:
    guild = _guild(store, req)
    data = payloads.guild(store, guild)
    if req.flag("with_counts"):
        data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
    return data


@routes("GET", "/guilds/{guild_id}/channels")
async def guild_channels(store: Store, req: ApiRequest) -> list[JSON]:
    guild = _guild(store, req)
    return [payloads.channel(store, c) for c in guild.channels.values() if not c.is_thread and not c.deleted]


@routes("POST", "/guilds/{guild_id}/channels")
async def create_guild_channel(store: Store, req: ApiRequest) -> JSON:
    guild = _guild(store, req)
    if not _guild_perm(store, guild, MANAGE_CHANNELS):
        raise missing_permissions()
    body = req.body
    ch = store.add_channel(
        guild, str(body.get("name") or "channel"), nsfw=bool(body.get("nsfw")), topic=body.get("topic")
    )
    return payloads.channel(store, ch)


@routes("GET", "/guilds/{guild_id}/threads/active")
async def active_threads(store: Store, req: ApiRequest) -> JSON:
    guild = _guild(store, req)
    threads = [c for c in guild.channels.values() if c.is_thread and not c.archived and not c.deleted]
    return {"threads": [payloads.channel(store, t) for t in threads], "members": []}


@routes("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(store: Store, req: ApiRequest) -> JSON:
    member = _guild(store, req).members.get(req.id("user_id"))
    if member is None:
        raise not_found("Member", 10007)
    return payloads.member(member)


@routes("GET", "/guilds/{guild_id}/members")
async def list_members(store: Store, req: ApiRequest) -> list[JSON]:
    guild = _guild(store, req)
    after = int(req.query.get("after", 0))
    limit = min(int(req.query.get("limit", 1)), 1000)
    members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
    return [payloads.member(m) for m in members[:limit]]


@routes("GET", "/guilds/{guild_id}/roles")
async def list_roles(store: Store, req: ApiRequest) -> list[JSON]:
    return [payloads.role(r) for r in _guild(store, req).roles.values()]


@routes("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def add_member_role(store: Store, req: ApiRequest) -> None:
    guild, role_ids = _role_change(store, req)
    role_ids.add(req.id("role_id"))
    store.set_roles(guild, req.id("user_id"), sorted(role_ids))


@routes("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def remove_member_role(store: Store, req: ApiRequest) -> None:
    guild, role_ids = _role_change(store, req)
    role_ids.discard(req.id("role_id"))
    store.set_roles(guild, req.id("user_id"), sorted(role_ids))


def _role_change(store: Store, req: ApiRequest) -> tuple[Guild, set[int]]:
    guild = _guild(store, req)
    member, role = guild.members.get(req.id("user_id")), guild.roles.get(req.id("role_id"))
    if member is None:
        raise not_found("Member", 10007)
    if role is None:
        raise not_found("Role", 10011)
    bot_top = max(guild.roles[r].position for r in store.bot_member(guild).role_ids)
    if not _guild_perm(store, guild, MANAGE_ROLES) or role.position >= bot_top or role.managed:
        raise missing_permissions()
    return guild, set(member.role_ids)


def _guild_perm(store: Store, guild: Guild, permission: int) -> bool:
    from .permissions import base_permissions

    return base_permissions(guild, store.bot.id) & permission == permission


# -- channels and threads ------------------------------------------------------------------------


def visible_channel(store: Store, req: ApiRequest) -> Channel:
    ch = store.channel(req.id("channel_id"))
    if ch.type == ChannelType.DM:
        return ch
    guild = store.guild_of(ch)
    if guild is None or store.bot.id not in guild.members:
        raise unknown_channel()
    return ch


@routes("GET", "/channels/{channel_id}")
async def get_channel(store: Store, req: ApiRequest) -> JSON:
    ch = visible_channel(store, req)
    store.require(ch, 0)
    return payloads.channel(store, ch)


@routes("PATCH", "/channels/{channel_id}")
async def edit_channel(store: Store, req: ApiRequest) -> JSON:
    ch = visible_channel(store, req)
    body = req.body
    if ch.is_thread:
        if ch.owner_id != store.bot.id or "locked" in body:
            store.require(ch, MANAGE_THREADS)
        for key in ("name", "archived", "locked", "auto_archive_duration", "rate_limit_per_user", "invitable"):
            if key in body:
                setattr(ch, key, body[key])
    else:
        store.require(ch, MANAGE_CHANNELS)
        for key in ("name", "topic", "nsfw", "rate_limit_per_user", "position"):
            if key in body:
                setattr(ch, key, body[key])
    data = payloads.channel(store, ch)
    store.dispatch("THREAD_UPDATE" if ch.is_thread else "CHANNEL_UPDATE", data)
    return data


@routes("DELETE", "/channels/{channel_id}")
async def delete_channel(store: Store, req: ApiRequest) -> JSON:
    ch = visible_channel(store, req)
    store.require(ch, MANAGE_THREADS if ch.is_thread else MANAGE_CHANNELS)
    data = payloads.channel(store, ch)
    ch.deleted = True
    store.dispatch("THREAD_DELETE" if ch.is_thread else "CHANNEL_DELETE", data)
    return data


@routes("POST", "/channels/{channel_id}/threads")
async def start_thread(store: Store, req: ApiRequest) -> JSON:
    parent = visible_channel(store, req)
    body = req.body
    if parent.is_thread or parent.type == ChannelType.DM:
        raise APIError(400, 50024, "Cannot execute action on this channel type")
    if parent.type == ChannelType.FORUM:
        return _forum_post(store, parent, body, req)
    kind = ChannelType(int(body.get("type") or ChannelType.PRIVATE_THREAD))  # Discord's v9+ default
    store.require(parent, CREATE_PUBLIC_THREADS if kind == ChannelType.PUBLIC_THREAD else CREATE_PRIVATE_THREADS)
    thread = create_thread(store, parent, store.bot, str(body.get("name", "")), kind=kind, **_thread_options(body))
    return _with_member(store, thread)


def _forum_post(store: Store, forum: Channel, body: JSON, req: ApiRequest) -> JSON:
    store.require(forum, SEND_MESSAGES)
    name = str(body.get("name", ""))
    tid = store.ids.next()  # a forum post's first message shares the thread's id
    thread = create_thread(store, forum, store.bot, name, announce=False, thread_id=tid, **_thread_options(body))
    first = create_message(store, thread, store.bot, dict(body.get("message") or {}), req.uploads, message_id=tid)
    return {**_with_member(store, thread), "message": payloads.message(store, first)}


@routes("POST", "/channels/{channel_id}/messages/{message_id}/threads")
async def start_thread_from_message(store: Store, req: ApiRequest) -> JSON:
    parent = visible_channel(store, req)
    store.require(parent, CREATE_PUBLIC_THREADS | READ_MESSAGE_HISTORY)
    starter = store.message_by_id.get(req.id("message_id"))
    if starter is None or starter.deleted or starter.channel_id != parent.id or starter.ephemeral:
        raise not_found("Message", 10008)
    body = req.body
    thread = create_thread(
        store, parent, store.bot, str(body.get("name", "")), starter=starter, **_thread_options(body)
    )
    return _with_member(store, thread)


def _thread_options(body: JSON) -> dict[str, Any]:
    return {
        "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
        "invitable": bool(body.get("invitable", True)),
        "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
    }


def _with_member(store: Store, thread: Channel) -> JSON:
    data = payloads.channel(store, thread)
    created = data["thread_metadata"]["create_timestamp"]
    data["member"] = {"id": str(thread.id), "user_id": str(store.bot.id), "join_timestamp": created, "flags": 1}
    return data


@routes("PUT", "/channels/{channel_id}/thread-members/{user_id}")
async def join_thread(store: Store, req: ApiRequest) -> None:
    thread = visible_channel(store, req)
    uid = store.bot.id if req.params["user_id"] == "@me" else req.id("user_id")
    if not thread.is_thread:
        raise APIError(400, 50024, "Cannot execute action on this channel type")
    thread.thread_member_ids.add(uid)
    store.changed()


@routes("DELETE", "/channels/{channel_id}/thread-members/{user_id}")
async def leave_thread(store: Store, req: ApiRequest) -> None:
    thread = visible_channel(store, req)
    uid = store.bot.id if req.params["user_id"] == "@me" else req.id("user_id")
    thread.thread_member_ids.discard(uid)
    store.changed()


@routes("GET", "/channels/{channel_id}/thread-members")
async def thread_members(store: Store, req: ApiRequest) -> list[JSON]:
    thread = visible_channel(store, req)
    created = payloads.channel(store, thread).get("thread_metadata", {}).get("create_timestamp")
    return [
        {"id": str(thread.id), "user_id": str(uid), "join_timestamp": created, "flags": 0}
        for uid in sorted(thread.thread_member_ids)
    ]
