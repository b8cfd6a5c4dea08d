"""Serialise the fake's objects into the JSON Discord sends (REST bodies and gateway ``d`` payloads).

Field sets follow Discord's API v10 objects closely enough for discord.py 2.7's parsers
(``state.py``, ``guild.py``, ``message.py``, ``threads.py``); optional fields Discord always sends are
included too, so code that reads raw payloads sees what production would show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ids import iso
from .models import JSON, AppCommand, Attachment, Channel, ChannelType, Guild, Member, Message, Role, User, Webhook

if TYPE_CHECKING:
    from .store import Store


def user(u: User) -> JSON:
    data: JSON = {
        "id": str(u.id),
        "username": u.name,
        "global_name": u.global_name,
        "discriminator": "0",
        "avatar": u.avatar,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "primary_guild": None,
    }
    if u.bot:
        data["bot"] = True
    return data


def role(r: Role) -> JSON:
    data: JSON = {
        "id": str(r.id),
        "name": r.name,
        "permissions": str(r.permissions),
        "position": r.position,
        "color": r.color,
        "colors": {"primary_color": r.color, "secondary_color": None, "tertiary_color": None},
        "hoist": r.hoist,
        "managed": r.managed,
        "mentionable": r.mentionable,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
    if r.bot_id is not None:
        data["tags"] = {"bot_id": str(r.bot_id)}
    return data


def member(m: Member, *, with_user: bool = True, permissions: int | None = None) -> JSON:
    data: JSON = {
        "roles": [str(r) for r in m.role_ids],
        "nick": m.nick,
        "avatar": None,
        "banner": None,
        "joined_at": iso(m.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(m.user)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def channel(store: Store, ch: Channel) -> JSON:
    if ch.type == ChannelType.DM:
        return {
            "id": str(ch.id),
            "type": int(ch.type),
            "last_message_id": _sid(ch.last_message_id),
            "recipients": [user(store.users[u]) for u in ch.recipient_ids],
            "flags": 0,
        }
    data: JSON = {
        "id": str(ch.id),
        "type": int(ch.type),
        "guild_id": str(ch.guild_id),
        "name": ch.name,
        "parent_id": _sid(ch.parent_id),
        "last_message_id": _sid(ch.last_message_id),
        "rate_limit_per_user": ch.rate_limit_per_user,
        "flags": 0,
    }
    if ch.is_thread:
        messages = store.channel_messages.get(ch.id, [])
        data.update(
            owner_id=_sid(ch.owner_id),
            message_count=sum(1 for m in messages if not m.deleted),
            member_count=min(len(ch.thread_member_ids), 50),
            total_message_sent=ch.total_message_sent,
            thread_metadata={
                "archived": ch.archived,
                "auto_archive_duration": ch.auto_archive_duration,
                "archive_timestamp": iso(ch.archive_timestamp),
                "locked": ch.locked,
                "invitable": ch.invitable,
                "create_timestamp": iso(ch.created_at),
            },
        )
        return data
    data.update(
        position=ch.position,
        topic=ch.topic,
        nsfw=ch.nsfw,
        permission_overwrites=[
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in ch.overwrites.values()
        ],
        default_auto_archive_duration=1440,
        default_thread_rate_limit_per_user=0,
    )
    if ch.type == ChannelType.FORUM:
        data.update(available_tags=[], default_reaction_emoji=None, default_sort_order=None, default_forum_layout=0)
    return data


def guild(store: Store, g: Guild, *, full: bool = False) -> JSON:
    data: JSON = {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "widget_enabled": False,
        "max_members": 500000,
        "application_id": None,
        "features": [],
        "roles": [role(r) for r in g.roles.values()],
        "emojis": [],
        "stickers": [],
    }
    if full:
        bot_member = g.members.get(store.bot.id)
        data.update(
            joined_at=iso(bot_member.joined_at if bot_member else g.created_at),
            large=False,
            unavailable=False,
            member_count=len(g.members),
            members=[member(m) for m in g.members.values()],
            channels=[channel(store, c) for c in g.channels.values() if not c.is_thread and not c.deleted],
            threads=[
                channel(store, c) for c in g.channels.values() if c.is_thread and not c.archived and not c.deleted
            ],
            voice_states=[],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
            lazy=True,
        )
    return data


def attachment(a: Attachment) -> JSON:
    data: JSON = {
        "id": str(a.id),
        "filename": a.filename,
        "size": a.size,
        "url": a.url,
        "proxy_url": a.url,
        "content_type": a.content_type,
    }
    if a.description:
        data["description"] = a.description
    return data


def emoji(key: str) -> JSON:
    """``"👍"`` or ``"name:123"`` (the form discord.py puts in reaction routes) as an emoji object."""
    if ":" in key:
        parts = key.strip("<>").split(":")
        animated = parts[0] == "a"
        name, eid = parts[-2], parts[-1]
        return {"id": eid, "name": name, "animated": animated}
    return {"id": None, "name": key}


def message(store: Store, msg: Message) -> JSON:
    guild_obj = store.guilds.get(msg.guild_id) if msg.guild_id else None
    data: JSON = {
        "id": str(msg.id),
        "channel_id": str(msg.channel_id),
        "type": msg.type,
        "content": msg.content,
        "author": user(msg.author),
        "timestamp": iso(msg.created_at),
        "edited_timestamp": iso(msg.edited_at),
        "tts": msg.tts,
        "mention_everyone": msg.mentions.everyone,
        "mentions": [
            _mentioned_user(store, guild_obj, uid) for uid in sorted(msg.mentions.users) if uid in store.users
        ],
        "mention_roles": [str(r) for r in sorted(msg.mentions.roles)],
        "attachments": [attachment(a) for a in msg.attachments],
        "embeds": msg.embeds,
        "components": msg.components,
        "reactions": [_reaction(store, key, users) for key, users in msg.reactions.items() if users],
        "pinned": msg.pinned,
        "flags": msg.flags,
    }
    if guild_obj is not None:
        data["guild_id"] = str(guild_obj.id)
        author_member = guild_obj.members.get(msg.author.id)
        if msg.webhook_id is None and author_member is not None:
            data["member"] = member(author_member, with_user=False)
    if msg.webhook_id is not None:
        data["webhook_id"] = str(msg.webhook_id)
    if msg.nonce is not None:
        data["nonce"] = msg.nonce
    if msg.message_reference:
        data["message_reference"] = msg.message_reference
        ref = store.message_by_id.get(int(msg.message_reference.get("message_id") or 0))
        data["referenced_message"] = message(store, ref) if ref is not None and not ref.deleted else None
    if msg.thread_id and msg.thread_id in store.channels:
        data["thread"] = channel(store, store.channels[msg.thread_id])
    if msg.interaction_id is not None:
        data.update(_interaction_fields(store, msg))
    return data


def _interaction_fields(store: Store, msg: Message) -> JSON:
    ix = store.interactions.get(msg.interaction_id or 0)
    if ix is None:
        return {}
    meta: JSON = {
        "id": str(ix.id),
        "type": ix.type,
        "user": user(ix.user),
        "authorizing_integration_owners": {"0": str(ix.guild.id)} if ix.guild else {"1": str(ix.user.id)},
    }
    if ix.command_name:
        meta["name"] = ix.command_name
    if ix.original_message_id and ix.original_message_id != msg.id:
        meta["original_response_message_id"] = str(ix.original_message_id)
    if ix.source_message_id:
        meta["interacted_message_id"] = str(ix.source_message_id)
    legacy = {"id": str(ix.id), "type": ix.type, "name": ix.command_name or "", "user": user(ix.user)}
    return {"application_id": str(store.application_id), "interaction_metadata": meta, "interaction": legacy}


def _mentioned_user(store: Store, g: Guild | None, uid: int) -> JSON:
    data = user(store.users[uid])
    if g is not None and uid in g.members:
        data["member"] = member(g.members[uid], with_user=False)
    return data


def _reaction(store: Store, key: str, users: list[int]) -> JSON:
    return {
        "count": len(users),
        "count_details": {"burst": 0, "normal": len(users)},
        "me": store.bot.id in users,
        "me_burst": False,
        "burst_me": False,
        "burst_count": 0,
        "burst_colors": [],
        "emoji": emoji(key),
    }


def webhook(store: Store, w: Webhook, *, with_token: bool = True) -> JSON:
    data: JSON = {
        "id": str(w.id),
        "type": w.type,
        "guild_id": str(w.guild_id),
        "channel_id": str(w.channel_id),
        "name": w.name,
        "avatar": w.avatar,
        "application_id": _sid(w.application_id),
    }
    if w.creator_id is not None and w.creator_id in store.users:
        data["user"] = user(store.users[w.creator_id])
    if with_token:
        data["token"] = w.token
        data["url"] = f"https://discord.com/api/webhooks/{w.id}/{w.token}"
    return data


def command(c: AppCommand) -> JSON:
    data: JSON = {
        "default_member_permissions": None,
        "type": 1,
        "nsfw": False,
        "name_localizations": None,
        "description_localizations": None,
        "description": "",
        "options": [],
        "contexts": None,
        "integration_types": [0],
    }
    data.update(c.payload)
    data.update(id=str(c.id), application_id=str(c.application_id), version=str(c.version))
    if c.guild_id is not None:
        data["guild_id"] = str(c.guild_id)
    return data


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)
