"""REST routes for channel webhooks (NPC voices) and for interaction callbacks and follow-ups.

Both share the ``/webhooks/{id}/{token}`` shape: when the id is the application's and the token an
interaction's, the request is a follow-up or an ``@original`` edit; otherwise it is a real webhook.
Discord rules kept here: at most 15 webhooks per channel (30007); webhooks live on text channels,
never threads (a thread is addressed with ``?thread_id=`` on the parent's webhook); a webhook
message in a thread can only be fetched/edited with that ``thread_id``; usernames may not contain
"discord" or "clyde".
"""

from __future__ import annotations

import hashlib
import time

from . import interactions, payloads
from .errors import APIError, unknown_channel, unknown_message, unknown_webhook
from .interactions import FakeInteraction
from .messaging import create_message, delete_message, edit_message
from .models import JSON, Channel, ChannelType, Message, User, Webhook
from .permissions import MANAGE_WEBHOOKS
from .rest import ApiRequest, Reply, RouteTable
from .routes_core import visible_channel
from .store import Store
from .validation import validate_webhook_name

routes = RouteTable()
MAX_WEBHOOKS_PER_CHANNEL = 15


def _avatar_hash(data: str | None) -> str | None:
    return None if not data else hashlib.md5(data.encode()).hexdigest()


# -- managing webhooks (bot auth) ----------------------------------------------------------------


@routes("POST", "/channels/{channel_id}/webhooks")
async def create_webhook(store: Store, req: ApiRequest) -> JSON:
    channel = visible_channel(store, req)
    if channel.type not in (ChannelType.TEXT, ChannelType.NEWS, ChannelType.FORUM):
        raise APIError(400, 50024, "Cannot execute action on this channel type")
    store.require(channel, MANAGE_WEBHOOKS)
    name = req.body.get("name")
    validate_webhook_name(str(name) if name is not None else "", "name")
    if (
        sum(1 for w in store.webhooks.values() if w.channel_id == channel.id and not w.deleted)
        >= MAX_WEBHOOKS_PER_CHANNEL
    ):
        raise APIError(400, 30007, "Maximum number of webhooks reached (15)")
    assert channel.guild_id is not None
    hook = Webhook(store.ids.next(), channel.id, channel.guild_id, str(name), f"wh-{store.ids.next()}-token")
    hook.avatar, hook.creator_id = _avatar_hash(req.body.get("avatar")), store.bot.id
    store.webhooks[hook.id] = hook
    store.dispatch("WEBHOOKS_UPDATE", {"guild_id": str(hook.guild_id), "channel_id": str(channel.id)})
    return payloads.webhook(store, hook)


@routes("GET", "/channels/{channel_id}/webhooks")
async def channel_webhooks(store: Store, req: ApiRequest) -> list[JSON]:
    channel = visible_channel(store, req)
    store.require(channel, MANAGE_WEBHOOKS)
    return [payloads.webhook(store, w) for w in store.webhooks.values() if w.channel_id == channel.id and not w.deleted]


@routes("GET", "/guilds/{guild_id}/webhooks")
async def guild_webhooks(store: Store, req: ApiRequest) -> list[JSON]:
    gid = req.id("guild_id")
    return [payloads.webhook(store, w) for w in store.webhooks.values() if w.guild_id == gid and not w.deleted]


def _webhook(store: Store, req: ApiRequest, *, token: bool) -> Webhook:
    hook = store.webhooks.get(req.id("webhook_id"))
    if hook is None or hook.deleted or (token and req.params.get("webhook_token") != hook.token):
        raise unknown_webhook()
    if not token:
        store.require(store.channel(hook.channel_id), MANAGE_WEBHOOKS)
    return hook


@routes("GET", "/webhooks/{webhook_id}")
async def get_webhook(store: Store, req: ApiRequest) -> JSON:
    return payloads.webhook(store, _webhook(store, req, token=False))


@routes("GET", "/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def get_webhook_with_token(store: Store, req: ApiRequest) -> JSON:
    return payloads.webhook(store, _webhook(store, req, token=True), with_token=False)


@routes("PATCH", "/webhooks/{webhook_id}", auth=True)
async def edit_webhook(store: Store, req: ApiRequest) -> JSON:
    return _edit_webhook(store, _webhook(store, req, token=False), req.body, allow_move=True)


@routes("PATCH", "/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def edit_webhook_with_token(store: Store, req: ApiRequest) -> JSON:
    return _edit_webhook(store, _webhook(store, req, token=True), req.body, allow_move=False)


def _edit_webhook(store: Store, hook: Webhook, body: JSON, *, allow_move: bool) -> JSON:
    if "name" in body:
        validate_webhook_name(str(body["name"]), "name")
        hook.name = str(body["name"])
    if "avatar" in body:
        hook.avatar = _avatar_hash(body["avatar"])
    if allow_move and body.get("channel_id"):
        hook.channel_id = store.channel(body["channel_id"]).id
    store.changed()
    return payloads.webhook(store, hook)


@routes("DELETE", "/webhooks/{webhook_id}")
async def delete_webhook(store: Store, req: ApiRequest) -> None:
    _webhook(store, req, token=False).deleted = True
    store.changed()


@routes("DELETE", "/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def delete_webhook_with_token(store: Store, req: ApiRequest) -> None:
    _webhook(store, req, token=True).deleted = True
    store.changed()


# -- executing (token auth): webhooks and interaction follow-ups ---------------------------------


def _interaction(store: Store, req: ApiRequest) -> FakeInteraction | None:
    if req.id("webhook_id") != store.application_id:
        return None
    ix = interactions.find_by_token(store, req.params["webhook_token"])
    if ix is None:
        raise unknown_webhook()
    if time.monotonic() - ix.created_at > store.token_lifetime:
        raise APIError(401, 50027, "Invalid Webhook Token")
    return ix


@routes("POST", "/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def execute(store: Store, req: ApiRequest) -> JSON | Reply:
    ix = _interaction(store, req)
    if ix is not None:
        return payloads.message(store, interactions.followup(store, ix, req.body, req.uploads))
    hook = _webhook(store, req, token=True)
    channel = _target_channel(store, hook, req)
    username, avatar_url = req.body.get("username"), req.body.get("avatar_url")
    validate_webhook_name(username, "username")
    author = User(hook.id, str(username or hook.name), bot=True, avatar=_avatar_hash(avatar_url) or hook.avatar)
    if channel.is_thread and channel.archived and not channel.locked:
        channel.archived = False
        store.dispatch("THREAD_UPDATE", payloads.channel(store, channel))
    msg = create_message(store, channel, author, req.body, req.uploads, webhook_id=hook.id, avatar_url=avatar_url)
    return payloads.message(store, msg) if req.flag("wait") else Reply(204)


def _target_channel(store: Store, hook: Webhook, req: ApiRequest) -> Channel:
    channel = store.channel(hook.channel_id)
    if "thread_id" not in req.query:
        return channel
    thread = store.channels.get(int(req.query["thread_id"]))
    if thread is None or thread.deleted or not thread.is_thread or thread.parent_id != hook.channel_id:
        raise unknown_channel()
    if thread.archived and thread.locked:
        raise APIError(400, 50083, "Thread is archived")
    return thread


def _webhook_message(store: Store, hook: Webhook, req: ApiRequest) -> Message:
    msg = store.message_by_id.get(req.id("message_id"))
    if msg is None or msg.deleted or msg.webhook_id != hook.id:
        raise unknown_message()
    expected = int(req.query["thread_id"]) if "thread_id" in req.query else hook.channel_id
    if msg.channel_id != expected:
        raise unknown_message()  # a message in a thread needs ?thread_id=, as on Discord
    return msg


@routes("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False)
async def get_webhook_message(store: Store, req: ApiRequest) -> JSON:
    ix = _interaction(store, req)
    if ix is not None:
        return payloads.message(store, interactions.response_message(store, ix, req.params["message_id"]))
    return payloads.message(store, _webhook_message(store, _webhook(store, req, token=True), req))


@routes("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False)
async def edit_webhook_message(store: Store, req: ApiRequest) -> JSON:
    ix = _interaction(store, req)
    if ix is not None:
        msg = interactions.edit_response(store, ix, req.params["message_id"], req.body, req.uploads)
        return payloads.message(store, msg)
    msg = _webhook_message(store, _webhook(store, req, token=True), req)
    return payloads.message(store, edit_message(store, msg, req.body, req.uploads))


@routes("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False)
async def delete_webhook_message(store: Store, req: ApiRequest) -> None:
    ix = _interaction(store, req)
    if ix is not None:
        interactions.delete_response(store, ix, req.params["message_id"])
        return
    delete_message(store, _webhook_message(store, _webhook(store, req, token=True), req))


@routes("POST", "/interactions/{interaction_id}/{interaction_token}/callback", auth=False)
async def callback(store: Store, req: ApiRequest) -> JSON | Reply:
    ix = store.interactions.get(req.id("interaction_id"))
    if ix is None or ix.token != req.params["interaction_token"]:
        raise APIError(404, 10062, "Unknown interaction")
    result = interactions.handle_callback(store, ix, req.body, req.uploads)
    return result if req.flag("with_response") else Reply(204)
