"""REST routes for channel messages: send, read, edit, delete, reactions, pins, typing."""

from __future__ import annotations

from . import payloads
from .errors import APIError, field_error, invalid_form, unknown_message
from .ids import iso, utcnow
from .messaging import add_reaction, create_message, delete_message, edit_message, remove_reaction
from .models import JSON, Channel, ChannelType, Message
from .permissions import (
    ADD_REACTIONS,
    ATTACH_FILES,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
)
from .rest import ApiRequest, RouteTable
from .routes_core import visible_channel
from .store import Store

routes = RouteTable()


def _message(store: Store, channel: Channel, req: ApiRequest) -> Message:
    msg = store.message_by_id.get(req.id("message_id"))
    if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
        raise unknown_message()
    return msg


def _check_send(store: Store, channel: Channel, req: ApiRequest) -> None:
    if channel.type == ChannelType.DM:
        return
    needed = SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES
    if req.uploads:
        needed |= ATTACH_FILES
    if req.body.get("message_reference"):
        needed |= READ_MESSAGE_HISTORY
    store.require(channel, needed)
    if channel.type == ChannelType.FORUM:
        raise APIError(400, 50024, "Cannot execute action on this channel type")
    if channel.is_thread and channel.archived:
        if channel.locked:
            raise APIError(400, 50083, "Thread is archived")
        channel.archived = False  # Discord unarchives a thread when someone posts in it
        store.dispatch("THREAD_UPDATE", payloads.channel(store, channel))


@routes("POST", "/channels/{channel_id}/messages")
async def send_message(store: Store, req: ApiRequest) -> JSON:
    channel = visible_channel(store, req)
    _check_send(store, channel, req)
    msg = create_message(
        store, channel, store.bot, req.body, req.uploads, msg_type=19 if req.body.get("message_reference") else 0
    )
    return payloads.message(store, msg)


@routes("GET", "/channels/{channel_id}/messages")
async def history(store: Store, req: ApiRequest) -> list[JSON]:
    channel = visible_channel(store, req)
    store.require(channel, 0)
    if channel.type != ChannelType.DM and not store.permissions(channel, store.bot.id) & READ_MESSAGE_HISTORY:
        return []
    limit = max(1, min(int(req.query.get("limit", 50)), 100))
    msgs = [m for m in store.messages(channel) if not m.ephemeral]
    if "before" in req.query:
        msgs = [m for m in msgs if m.id < int(req.query["before"])][-limit:]
    elif "after" in req.query:
        msgs = [m for m in msgs if m.id > int(req.query["after"])][:limit]
    elif "around" in req.query:
        around = int(req.query["around"])
        older = [m for m in msgs if m.id <= around][-(limit // 2 + 1) :]
        newer = [m for m in msgs if m.id > around][: limit - len(older)]
        msgs = older + newer
    else:
        msgs = msgs[-limit:]
    return [payloads.message(store, m) for m in reversed(msgs)]


@routes("GET", "/channels/{channel_id}/messages/pins")
async def list_pins(store: Store, req: ApiRequest) -> JSON:
    channel = visible_channel(store, req)
    store.require(channel, READ_MESSAGE_HISTORY)
    pins = sorted((m for m in store.messages(channel) if m.pinned), key=lambda m: m.pinned_at or utcnow(), reverse=True)
    items = [{"pinned_at": iso(m.pinned_at), "message": payloads.message(store, m)} for m in pins]
    return {"items": items[: int(req.query.get("limit", 50))], "has_more": False}


@routes("PUT", "/channels/{channel_id}/messages/pins/{message_id}")
async def pin(store: Store, req: ApiRequest) -> None:
    _set_pinned(store, req, True)


@routes("DELETE", "/channels/{channel_id}/messages/pins/{message_id}")
async def unpin(store: Store, req: ApiRequest) -> None:
    _set_pinned(store, req, False)


def _set_pinned(store: Store, req: ApiRequest, pinned: bool) -> None:
    channel = visible_channel(store, req)
    store.require(channel, MANAGE_MESSAGES)
    msg = _message(store, channel, req)
    msg.pinned, msg.pinned_at = pinned, utcnow() if pinned else None
    store.dispatch("MESSAGE_UPDATE", payloads.message(store, msg))


@routes("POST", "/channels/{channel_id}/messages/bulk-delete")
async def bulk_delete(store: Store, req: ApiRequest) -> None:
    channel = visible_channel(store, req)
    store.require(channel, MANAGE_MESSAGES)
    ids = [int(i) for i in req.body.get("messages") or []]
    if not 2 <= len(ids) <= 100:
        raise invalid_form({"messages": field_error("BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")})
    for mid in ids:
        msg = store.message_by_id.get(mid)
        if msg is not None and msg.channel_id == channel.id and not msg.deleted:
            delete_message(store, msg)


@routes("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(store: Store, req: ApiRequest) -> JSON:
    channel = visible_channel(store, req)
    store.require(channel, READ_MESSAGE_HISTORY)
    return payloads.message(store, _message(store, channel, req))


@routes("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def patch_message(store: Store, req: ApiRequest) -> JSON:
    channel = visible_channel(store, req)
    msg = _message(store, channel, req)
    # The bot's own messages, its interaction responses included (not ephemeral ones: `_message` hides
    # those): Discord lets the bot token edit them after the interaction token has expired.
    if msg.author.id != store.bot.id or msg.webhook_id not in (None, store.application_id):
        raise APIError(403, 50005, "Cannot edit a message authored by another user")
    return payloads.message(store, edit_message(store, msg, req.body, req.uploads))


@routes("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def remove_message(store: Store, req: ApiRequest) -> None:
    channel = visible_channel(store, req)
    msg = _message(store, channel, req)
    if msg.author.id != store.bot.id or msg.webhook_id is not None:
        store.require(channel, MANAGE_MESSAGES)
    delete_message(store, msg)


@routes("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}")
async def react(store: Store, req: ApiRequest) -> None:
    channel = visible_channel(store, req)
    if req.params["user_id"] != "@me":
        raise APIError(404, 0, "404: Not Found")
    msg = _message(store, channel, req)
    if channel.type != ChannelType.DM and not msg.reactions.get(req.params["emoji"]):
        store.require(channel, ADD_REACTIONS | READ_MESSAGE_HISTORY)
    if len(msg.reactions) >= 20 and req.params["emoji"] not in msg.reactions:
        raise APIError(400, 30010, "Maximum number of reactions reached (20)")
    add_reaction(store, msg, store.bot, req.params["emoji"])


@routes("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}")
async def unreact(store: Store, req: ApiRequest) -> None:
    channel = visible_channel(store, req)
    msg = _message(store, channel, req)
    if req.params["user_id"] == "@me":
        remove_reaction(store, msg, store.bot, req.params["emoji"])
        return
    store.require(channel, MANAGE_MESSAGES)
    remove_reaction(store, msg, store.user(req.id("user_id")), req.params["emoji"])


@routes("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}")
async def reactors(store: Store, req: ApiRequest) -> list[JSON]:
    channel = visible_channel(store, req)
    msg = _message(store, channel, req)
    after = int(req.query.get("after", 0))
    ids = [u for u in msg.reactions.get(req.params["emoji"], []) if u > after]
    return [payloads.user(store.users[u]) for u in ids[: int(req.query.get("limit", 25))]]


@routes("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions")
async def clear_reactions(store: Store, req: ApiRequest) -> None:
    channel = visible_channel(store, req)
    store.require(channel, MANAGE_MESSAGES)
    msg = _message(store, channel, req)
    msg.reactions.clear()
    data = {"channel_id": str(channel.id), "message_id": str(msg.id)}
    if channel.guild_id:
        data["guild_id"] = str(channel.guild_id)
    store.dispatch("MESSAGE_REACTION_REMOVE_ALL", data)


@routes("POST", "/channels/{channel_id}/typing")
async def typing(store: Store, req: ApiRequest) -> None:
    channel = visible_channel(store, req)
    if channel.type != ChannelType.DM:
        store.require(channel, SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES)
    channel.typing_count += 1
    store.changed()
