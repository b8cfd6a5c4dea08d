"""Creating, editing and deleting messages, reactions and threads: shared by every route that writes.

Channel sends, webhook executions, interaction responses and follow-ups all end up here, so the
limits, mention rules, edit history and gateway events are the same whichever way the bot speaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import payloads
from .errors import APIError, field_error, invalid_form
from .ids import utcnow
from .mentions import parse_mentions
from .models import JSON, Attachment, Channel, ChannelType, Message, MessageFlag, MessageVersion, User
from .store import Store
from .validation import SENDABLE_FLAGS, check_not_empty, validate_write

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
KEPT_FLAGS = MessageFlag.EPHEMERAL | MessageFlag.HAS_THREAD


@dataclass(frozen=True)
class Upload:
    """One ``files[n]`` part of a multipart request."""

    index: int
    filename: str
    data: bytes
    content_type: str | None = None


def create_message(
    store: Store,
    channel: Channel,
    author: User,
    payload: JSON,
    uploads: Sequence[Upload] = (),
    *,
    webhook_id: int | None = None,
    avatar_url: str | None = None,
    interaction_id: int | None = None,
    visible_to: int | None = None,
    msg_type: int = 0,
    extra_flags: int = 0,
    message_id: int | None = None,
) -> Message:
    """Validate ``payload`` like Discord, store the message and dispatch MESSAGE_CREATE."""
    validate_write(payload)
    flags = (int(payload.get("flags") or 0) & SENDABLE_FLAGS) | extra_flags
    if visible_to is None:
        flags &= ~MessageFlag.EPHEMERAL  # only interaction responses can be ephemeral
    mid = message_id if message_id is not None else store.ids.next()
    msg = Message(mid, channel.id, channel.guild_id, author, flags=flags, type=msg_type)
    msg.webhook_id, msg.avatar_url, msg.interaction_id = webhook_id, avatar_url, interaction_id
    msg.visible_to = visible_to if flags & MessageFlag.EPHEMERAL else None
    msg.tts, msg.nonce = bool(payload.get("tts")), payload.get("nonce")
    msg.content = str(payload.get("content") or "")
    msg.embeds = list(payload.get("embeds") or [])
    msg.components = list(payload.get("components") or [])
    msg.attachments = _attachments(store, msg, payload, uploads, existing=[])
    if not flags & MessageFlag.LOADING:
        check_not_empty(msg.content, msg.embeds, len(msg.attachments), msg.components, payload)
    replied = _reference(store, channel, msg, payload.get("message_reference"))
    _record_version(store, msg, payload.get("allowed_mentions"), replied, reparse=True)
    store.message_by_id[msg.id] = msg
    store.channel_messages.setdefault(channel.id, []).append(msg)
    if not msg.ephemeral:
        channel.last_message_id = msg.id
        channel.total_message_sent += 1
        store.dispatch("MESSAGE_CREATE", payloads.message(store, msg))
    store.changed()
    return msg


def edit_message(store: Store, msg: Message, payload: JSON, uploads: Sequence[Upload] = ()) -> Message:
    """Apply a PATCH like Discord: absent fields stay, mentions re-parse when content changes."""
    validate_write(payload, is_edit=True)
    if "content" in payload:
        msg.content = str(payload["content"] or "")
    if "embeds" in payload:
        msg.embeds = list(payload["embeds"] or [])
    if "components" in payload:
        msg.components = list(payload["components"] or [])
    if "attachments" in payload or uploads:
        msg.attachments = _attachments(store, msg, payload, uploads, existing=msg.attachments)
    if "flags" in payload and payload["flags"] is not None:
        msg.flags = (msg.flags & KEPT_FLAGS) | (int(payload["flags"]) & SENDABLE_FLAGS & ~MessageFlag.EPHEMERAL)
    was_loading = msg.loading
    msg.flags &= ~MessageFlag.LOADING
    check_not_empty(msg.content, msg.embeds, len(msg.attachments), msg.components, payload)
    if not was_loading:
        msg.edited_at = utcnow()
    replied = _replied_author(store, msg.message_reference)
    _record_version(store, msg, payload.get("allowed_mentions"), replied, reparse="content" in payload)
    if not msg.ephemeral:
        store.dispatch("MESSAGE_UPDATE", payloads.message(store, msg))
    store.changed()
    return msg


def delete_message(store: Store, msg: Message) -> None:
    msg.deleted = True
    if not msg.ephemeral:
        data: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id:
            data["guild_id"] = str(msg.guild_id)
        store.dispatch("MESSAGE_DELETE", data)
    store.changed()


def add_reaction(store: Store, msg: Message, user: User, emoji: str) -> bool:
    """Add ``user``'s reaction; False if it was already there (Discord answers 204 either way)."""
    users = msg.reactions.setdefault(emoji, [])
    if user.id in users:
        return False
    users.append(user.id)
    store.dispatch("MESSAGE_REACTION_ADD", _reaction_event(store, msg, user, emoji, with_member=True))
    return True


def remove_reaction(store: Store, msg: Message, user: User, emoji: str) -> None:
    users = msg.reactions.get(emoji, [])
    if user.id in users:
        users.remove(user.id)
        store.dispatch("MESSAGE_REACTION_REMOVE", _reaction_event(store, msg, user, emoji, with_member=False))


def _reaction_event(store: Store, msg: Message, user: User, emoji: str, *, with_member: bool) -> JSON:
    data: JSON = {
        "user_id": str(user.id),
        "channel_id": str(msg.channel_id),
        "message_id": str(msg.id),
        "emoji": payloads.emoji(emoji),
        "burst": False,
        "type": 0,
    }
    if with_member:
        data.update(message_author_id=str(msg.author.id), burst_colors=[])
    if msg.guild_id:
        data["guild_id"] = str(msg.guild_id)
        member = store.guilds[msg.guild_id].members.get(user.id)
        if with_member and member is not None:
            data["member"] = payloads.member(member)
    return data


def create_thread(
    store: Store,
    parent: Channel,
    creator: User,
    name: str,
    *,
    kind: ChannelType = ChannelType.PUBLIC_THREAD,
    starter: Message | None = None,
    auto_archive_duration: int = 1440,
    invitable: bool = True,
    rate_limit_per_user: int = 0,
    announce: bool = True,
    thread_id: int | None = None,
) -> Channel:
    """A new thread; from a message it takes the message's id (Discord's quirk) and marks it HAS_THREAD."""
    if not 1 <= len(name) <= 100:
        raise invalid_form({"name": field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")})
    if starter is not None and starter.thread_id is not None:
        raise APIError(400, 160004, "A thread has already been created for this message")
    guild = store.guild_of(parent)
    assert guild is not None
    tid = starter.id if starter is not None else thread_id or store.ids.next()
    thread = Channel(tid, kind, name, guild.id, parent_id=parent.id, owner_id=creator.id)
    thread.auto_archive_duration, thread.invitable = auto_archive_duration, invitable
    thread.rate_limit_per_user, thread.thread_member_ids = rate_limit_per_user, {creator.id}
    guild.channels[thread.id] = thread
    store.channels[thread.id] = thread
    store.channel_messages[thread.id] = []
    event = payloads.channel(store, thread)
    if creator.id == store.bot.id:
        event["member"] = {
            "id": str(thread.id),
            "user_id": str(creator.id),
            "join_timestamp": event["thread_metadata"]["create_timestamp"],
            "flags": 1,
        }
    store.dispatch("THREAD_CREATE", {**event, "newly_created": True})
    if starter is not None:
        starter.thread_id = thread.id
        starter.flags |= MessageFlag.HAS_THREAD
        store.dispatch("MESSAGE_UPDATE", payloads.message(store, starter))
    elif announce and kind == ChannelType.PUBLIC_THREAD and parent.type == ChannelType.TEXT:
        # Discord posts a "X started a thread" system message (type 18) in the parent channel.
        ref = {"channel_id": str(thread.id), "guild_id": str(guild.id)}
        create_message(store, parent, creator, {"content": name, "message_reference": ref}, msg_type=18)
    store.changed()
    return thread


def _attachments(
    store: Store, msg: Message, payload: JSON, uploads: Sequence[Upload], *, existing: list[Attachment]
) -> list[Attachment]:
    """Resolve ``attachments`` (kept ids and ``{"id": n}`` slots for ``files[n]``) to Attachment objects."""
    by_index = {u.index: u for u in uploads}
    listed = payload.get("attachments")
    if listed is None:
        specs: list[JSON] = [*({"id": str(a.id)} for a in existing), *({"id": u.index} for u in uploads)]
    else:
        specs = list(listed)
    out: list[Attachment] = []
    kept = {a.id: a for a in existing}
    for spec in specs:
        raw_id = spec.get("id")
        upload = by_index.get(int(raw_id)) if raw_id is not None and int(raw_id) in by_index else None
        if upload is not None:
            att = Attachment(store.ids.next(), spec.get("filename") or upload.filename, upload.data)
            att.content_type = upload.content_type or _guess_type(att.filename)
            att.description = spec.get("description")
            att.url = f"{store.base_url}/attachments/{msg.channel_id}/{att.id}/{att.filename}"
            store.attachments[att.id] = att
            out.append(att)
        elif raw_id is not None and int(raw_id) in kept:
            out.append(kept[int(raw_id)])
        else:
            raise invalid_form({"attachments": field_error("ATTACHMENT_NOT_FOUND", f"Unknown attachment {raw_id}")})
    if sum(a.size for a in out if a not in existing) > ATTACHMENT_SIZE_LIMIT:
        raise APIError(413, 40005, "Request entity too large")
    return out


def _guess_type(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    types = {"txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "json": "application/json"}
    types |= {"png": "image/png", "jpg": "image/jpeg", "html": "text/html; charset=utf-8"}
    return types.get(ext, "application/octet-stream")


def _reference(store: Store, channel: Channel, msg: Message, ref: JSON | None) -> int | None:
    """Check a reply's target like Discord (``fail_if_not_exists`` defaults to true)."""
    if not ref:
        return None
    target_id = ref.get("message_id")
    if target_id is None:
        msg.message_reference = dict(ref)  # thread-created system messages reference a channel only
        return None
    target = store.message_by_id.get(int(target_id))
    if target is None or target.deleted or target.channel_id != int(ref.get("channel_id") or channel.id):
        if ref.get("fail_if_not_exists", True):
            raise invalid_form(
                {"message_reference": field_error("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")}
            )
        return None
    msg.message_reference = {
        "type": 0,
        "message_id": str(target.id),
        "channel_id": str(target.channel_id),
        **({"guild_id": str(target.guild_id)} if target.guild_id else {}),
    }
    return target.author.id


def _replied_author(store: Store, ref: JSON | None) -> int | None:
    target = store.message_by_id.get(int(ref["message_id"])) if ref and ref.get("message_id") else None
    return target.author.id if target is not None else None


def _record_version(store: Store, msg: Message, allowed: JSON | None, replied: int | None, *, reparse: bool) -> None:
    guild = store.guilds.get(msg.guild_id) if msg.guild_id else None
    known_roles = set(guild.roles) - {guild.id} if guild else set()
    msg.allowed_mentions = allowed
    if reparse:
        msg.mentions = parse_mentions(msg.content, allowed, known_roles=known_roles, replied_user=replied)
    version = MessageVersion(
        content=msg.content,
        embeds=list(msg.embeds),
        components=list(msg.components),
        attachments=[a.filename for a in msg.attachments],
        flags=msg.flags,
        allowed_mentions=allowed,
        mentions=msg.mentions,
        at=utcnow(),
    )
    msg.history.append(version)
