"""The in-memory objects the fake holds. Tests read and build these directly.

They are plain mutable dataclasses (the fake is a simulation, its state changes) compared by identity.
Serialisation to Discord's JSON lives in ``payloads.py`` so these stay readable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .ids import utcnow

JSON = dict[str, Any]


class ChannelType(IntEnum):
    TEXT = 0
    DM = 1
    CATEGORY = 4
    NEWS = 5
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    FORUM = 15


class MessageFlag:
    SUPPRESS_EMBEDS = 1 << 2
    HAS_THREAD = 1 << 5
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


@dataclass(eq=False)
class User:
    id: int
    name: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def display_name(self) -> str:
        return self.global_name or self.name

    def __repr__(self) -> str:
        return f"<User {self.name} id={self.id}{' bot' if self.bot else ''}>"


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    mentionable: bool = False
    color: int = 0
    hoist: bool = False
    managed: bool = False
    bot_id: int | None = None  # set on the managed role Discord creates for a bot

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def __repr__(self) -> str:
        return f"<Role {self.name} id={self.id} permissions={self.permissions}>"


@dataclass(eq=False)
class Member:
    user: User
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=utcnow)

    @property
    def id(self) -> int:
        return self.user.id

    def __repr__(self) -> str:
        return f"<Member {self.user.name} guild={self.guild_id} roles={self.role_ids}>"


@dataclass
class Overwrite:
    """A channel permission overwrite; ``type`` 0 targets a role, 1 a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass(eq=False)
class Channel:
    id: int
    type: ChannelType
    name: str
    guild_id: int | None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    thread_member_ids: set[int] = field(default_factory=set)
    total_message_sent: int = 0
    # DMs
    recipient_ids: list[int] = field(default_factory=list)
    last_message_id: int | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    archive_timestamp: dt.datetime = field(default_factory=utcnow)
    typing_count: int = 0
    deleted: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def __repr__(self) -> str:
        return f"<Channel #{self.name} id={self.id} type={self.type.name}>"


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)  # threads included
    bot_role_id: int | None = None
    created_at: dt.datetime = field(default_factory=utcnow)

    @property
    def default_role(self) -> Role:
        return self.roles[self.id]

    def __repr__(self) -> str:
        return f"<Guild {self.name} id={self.id}>"


@dataclass(eq=False)
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    url: str = ""

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"<Attachment {self.filename} {self.size} bytes>"


@dataclass(frozen=True)
class Mentions:
    """Who a message's content pings, after ``allowed_mentions`` is applied."""

    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()
    everyone: bool = False


@dataclass(frozen=True)
class MessageVersion:
    """One state of a message: as created, then one per edit."""

    content: str
    embeds: list[JSON]
    components: list[JSON]
    attachments: list[str]
    flags: int
    allowed_mentions: JSON | None
    mentions: Mentions
    at: dt.datetime


@dataclass(eq=False)
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    webhook_id: int | None = None
    avatar_url: str | None = None  # the per-message override a webhook execution sent
    allowed_mentions: JSON | None = None  # exactly as sent with the latest write (None: not sent)
    mentions: Mentions = field(default_factory=Mentions)  # of the current content
    history: list[MessageVersion] = field(default_factory=list)
    reactions: dict[str, list[int]] = field(default_factory=dict)  # emoji -> user ids, in order
    created_at: dt.datetime = field(default_factory=utcnow)
    edited_at: dt.datetime | None = None
    visible_to: int | None = None  # ephemeral messages: the only user who sees them
    interaction_id: int | None = None
    message_reference: JSON | None = None
    thread_id: int | None = None  # the thread started from this message
    pinned: bool = False
    pinned_at: dt.datetime | None = None
    nonce: str | int | None = None
    deleted: bool = False

    @property
    def edits(self) -> list[MessageVersion]:
        """Every version after the first (``history[0]`` is the message as created)."""
        return self.history[1:]

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred interaction response that has not been edited yet ("Bot is thinking...")."""
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def username(self) -> str:
        """The name shown on the message (a webhook's per-message override included)."""
        return self.author.display_name

    @property
    def pinged_users(self) -> set[int]:
        """Users pinged by any version (edits re-parse mentions, so every version counts)."""
        return set().union(*(v.mentions.users for v in self.history))

    @property
    def pinged_roles(self) -> set[int]:
        return set().union(*(v.mentions.roles for v in self.history))

    @property
    def pinged_everyone(self) -> bool:
        return any(v.mentions.everyone for v in self.history)

    @property
    def text(self) -> str:
        """Content plus embed titles, descriptions and fields: handy for ``in`` assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            for f in embed.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
            parts.append((embed.get("footer") or {}).get("text", ""))
        return "\n".join(p for p in parts if p)

    @property
    def custom_ids(self) -> list[str]:
        """custom_ids of every interactive component, in display order."""
        from .components import walk_components

        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

    def __repr__(self) -> str:
        flags = " ephemeral" if self.ephemeral else ""
        return f"<Message id={self.id} by {self.username!r}{flags}: {self.content[:60]!r}>"


@dataclass(eq=False)
class Webhook:
    id: int
    channel_id: int
    guild_id: int
    name: str
    token: str
    avatar: str | None = None
    creator_id: int | None = None
    application_id: int | None = None
    type: int = 1
    deleted: bool = False

    def __repr__(self) -> str:
        return f"<Webhook {self.name!r} id={self.id} channel={self.channel_id}>"


@dataclass(eq=False)
class AppCommand:
    """A registered application command: the payload the bot sent, plus the ids Discord assigned."""

    id: int
    application_id: int
    guild_id: int | None
    payload: JSON
    version: int

    @property
    def name(self) -> str:
        return str(self.payload["name"])

    @property
    def type(self) -> int:
        return int(self.payload.get("type", 1))

    @property
    def options(self) -> list[JSON]:
        return list(self.payload.get("options") or [])

    def __repr__(self) -> str:
        scope = f"guild={self.guild_id}" if self.guild_id else "global"
        return f"<AppCommand /{self.name} id={self.id} {scope}>"
