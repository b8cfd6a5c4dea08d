"""The fake's world: users, guilds, roles, members, channels, messages, webhooks, interactions.

Tests build the world with the ``add_*`` methods (before or after the bot connects: after, the
matching gateway event is dispatched so discord.py's cache stays in step). Every mutation calls
``changed()``, which wakes ``wait_for`` predicates; the gateway installs itself as ``dispatch``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from . import payloads
from .errors import FakeUsageError, missing_access, missing_permissions, unknown_channel
from .ids import SnowflakeGenerator, new_token
from .models import JSON, Attachment, Channel, ChannelType, Guild, Member, Message, Overwrite, Role, User, Webhook
from .permissions import DEFAULT_BOT, DEFAULT_EVERYONE, VIEW_CHANNEL, as_int, channel_permissions
from .traffic import Delay, Fault, RecordedDispatch, RecordedRequest, method_matches, path_matches

if TYPE_CHECKING:
    from .commands import CommandRegistry
    from .interactions import FakeInteraction

UserLike = User | Member | int
T = TypeVar("T")
POLL_INTERVAL = 0.02


class Store:
    """State plus the primitives that change it; ``FakeDiscord`` adds the server and test actions."""

    def __init__(self, *, bot_name: str = "Taleweaver") -> None:
        from .commands import CommandRegistry

        self.ids = SnowflakeGenerator()
        self.base_url = "http://127.0.0.1:0"
        self.application_id = self.ids.next()
        self.bot = User(self.application_id, bot_name, bot=True)  # Discord bots share the app's id
        self.token = f"{self.bot.id}.fake.{new_token()}"
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.message_by_id: dict[int, Message] = {}
        self.channel_messages: dict[int, list[Message]] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.attachments: dict[int, Attachment] = {}  # served at /attachments/... for Attachment.read()
        self.interactions: dict[int, FakeInteraction] = {}
        self.commands: CommandRegistry = CommandRegistry(self)
        self.requests: list[RecordedRequest] = []
        self.dispatches: list[RecordedDispatch] = []
        self.unknown_routes: list[RecordedRequest] = []  # requests no route matched (answered 404)
        self.faults: list[Fault] = []
        self.delays: list[Delay] = []
        # Discord forgets an interaction not answered within 3 s; None turns the check off.
        self.ack_deadline: float | None = 3.0
        # An interaction's token works for follow-ups and response edits for 15 minutes; after that
        # Discord answers 401 `50027 Invalid Webhook Token`. Tests shorten it (0 = expired at once).
        self.token_lifetime: float = 15 * 60.0
        self._dispatch: Callable[[str, JSON], None] = lambda event, data: None
        self._changed = asyncio.Event()

    # -- notification ---------------------------------------------------------------------------

    def changed(self) -> None:
        """Wake every ``wait_for``; each re-evaluates its predicate against the new state."""
        self._changed.set()
        self._changed = asyncio.Event()

    def dispatch(self, event: str, data: JSON) -> None:
        self._dispatch(event, data)
        self.changed()

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        *,
        channel: Channel | None = None,
        what: str | None = None,
    ) -> T:
        """Re-evaluate ``predicate`` after every change (and every 20 ms) until truthy; return its value.

        On timeout, raise ``TimeoutError`` describing what was awaited, the recent messages (of
        ``channel``, or of every channel), the last requests and any unanswered interactions.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(predicate, timeout, channel, what))
            event = self._changed
            try:
                # Also poll: predicates may read the client's state, which changes without telling us.
                await asyncio.wait_for(event.wait(), min(remaining, POLL_INTERVAL))
            except TimeoutError:
                pass

    def _timeout_report(
        self, predicate: Callable[[], object], timeout: float, channel: Channel | None, what: str | None
    ) -> str:
        lines = [f"timed out after {timeout:.1f}s waiting for {what or _describe_predicate(predicate)}", "messages:"]
        lines.append(self.describe(channel))
        lines.append("last requests:")
        lines += [f"  {r.method} {r.path} -> {r.status} {_short(r.json)}" for r in self.requests[-8:]] or ["  (none)"]
        pending = [ix for ix in self.interactions.values() if not ix.acknowledged]
        if pending:
            lines.append(f"unanswered interactions: {pending}")
        rejected = [(ix, e.code) for ix in self.interactions.values() for e in ix.rejected_callbacks]
        if rejected:
            lines.append(f"rejected callbacks: {rejected}")
        return "\n".join(lines)

    def requests_matching(self, method: str = "*", pattern: str = "/") -> list[RecordedRequest]:
        """Recorded requests by method (``*`` for any) and route pattern (see ``traffic.py``)."""
        return [r for r in self.requests if method_matches(method, r.method) and path_matches(pattern, r.path)]

    def dispatches_of(self, event: str) -> list[RecordedDispatch]:
        return [d for d in self.dispatches if d.event == event]

    # -- building the world ---------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False, global_name: str | None = None) -> User:
        u = User(self.ids.next(), name, global_name=global_name, bot=bot)
        self.users[u.id] = u
        self.changed()
        return u

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        owner: UserLike | None = None,
        bot_permissions: object = DEFAULT_BOT,
        everyone_permissions: object = DEFAULT_EVERYONE,
    ) -> Guild:
        """A guild with @everyone, the bot as a member holding its managed role, and ``owner``."""
        owner_user = self.user(owner) if owner is not None else self.add_user(f"{name.lower()}-owner")
        g = Guild(self.ids.next(), name, owner_user.id)
        g.roles[g.id] = Role(g.id, g.id, "@everyone", as_int(everyone_permissions), position=0)
        bot_role = Role(self.ids.next(), g.id, self.bot.name, as_int(bot_permissions), position=1, managed=True)
        bot_role.bot_id = self.bot.id
        g.roles[bot_role.id] = bot_role
        g.bot_role_id = bot_role.id
        self.guilds[g.id] = g
        g.members[owner_user.id] = Member(owner_user, g.id)
        g.members[self.bot.id] = Member(self.bot, g.id, [bot_role.id])
        self.dispatch("GUILD_CREATE", payloads.guild(self, g, full=True))
        return g

    def add_role(
        self, guild: Guild, name: str, *, permissions: object = 0, mentionable: bool = False, color: int = 0
    ) -> Role:
        """A new role lands just above @everyone, like one made in Discord's settings: below the bot's
        own role, so the bot may assign it (Discord only lets a member manage roles beneath its top role)."""
        for other in guild.roles.values():
            if other.id != guild.id:
                other.position += 1
                self.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": payloads.role(other)})
        r = Role(self.ids.next(), guild.id, name, as_int(permissions), position=1)
        r.mentionable, r.color = mentionable, color
        guild.roles[r.id] = r
        self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role(r)})
        return r

    def add_member(
        self, guild: Guild, user: UserLike, *, roles: Iterable[Role | int] = (), nick: str | None = None
    ) -> Member:
        u = self.user(user)
        m = Member(u, guild.id, [_id(r) for r in roles], nick)
        guild.members[u.id] = m
        self.dispatch("GUILD_MEMBER_ADD", {**payloads.member(m), "guild_id": str(guild.id)})
        return m

    def set_roles(self, guild: Guild, user: UserLike, roles: Iterable[Role | int]) -> Member:
        """Replace a member's roles (GUILD_MEMBER_UPDATE), e.g. to grant or revoke a moderator role."""
        m = self.member(guild, user)
        m.role_ids = [_id(r) for r in roles]
        self.dispatch("GUILD_MEMBER_UPDATE", {**payloads.member(m), "guild_id": str(guild.id)})
        return m

    def add_channel(
        self,
        guild: Guild,
        name: str,
        *,
        nsfw: bool = False,
        topic: str | None = None,
        forum: bool = False,
        overwrites: Iterable[Overwrite] = (),
    ) -> Channel:
        kind = ChannelType.FORUM if forum else ChannelType.TEXT
        position = sum(1 for c in guild.channels.values() if not c.is_thread)
        ch = Channel(self.ids.next(), kind, name, guild.id, position=position, topic=topic, nsfw=nsfw)
        ch.overwrites = {o.id: o for o in overwrites}
        self._register_channel(guild, ch)
        self.dispatch("CHANNEL_CREATE", payloads.channel(self, ch))
        return ch

    def add_thread(
        self, parent: Channel, name: str, *, owner: UserLike | None = None, private: bool = False
    ) -> Channel:
        """A thread that already exists (created by a user); the bot creates its own through REST."""
        guild = self.guild_of(parent)
        if guild is None or parent.is_thread:
            raise FakeUsageError("threads live in guild text or forum channels")
        kind = ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD
        owner_id = self.user(owner).id if owner is not None else guild.owner_id
        th = Channel(self.ids.next(), kind, name, guild.id, parent_id=parent.id, owner_id=owner_id)
        th.thread_member_ids = {owner_id}
        self._register_channel(guild, th)
        self.dispatch("THREAD_CREATE", {**payloads.channel(self, th), "newly_created": True})
        return th

    def dm_channel(self, user: UserLike) -> Channel:
        """The DM channel between the bot and ``user`` (created on first use, like Discord)."""
        u = self.user(user)
        for ch in self.channels.values():
            if ch.type == ChannelType.DM and ch.recipient_ids == [u.id]:
                return ch
        ch = Channel(self.ids.next(), ChannelType.DM, "", None, recipient_ids=[u.id])
        self.channels[ch.id] = ch
        self.channel_messages[ch.id] = []
        self.changed()
        return ch

    def set_overwrite(
        self, channel: Channel, target: Role | Member | User, *, allow: object = 0, deny: object = 0
    ) -> None:
        """Set a permission overwrite on ``channel`` for a role or member (CHANNEL_UPDATE)."""
        kind = 0 if isinstance(target, Role) else 1
        channel.overwrites[target.id] = Overwrite(target.id, kind, as_int(allow), as_int(deny))
        event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
        self.dispatch(event, payloads.channel(self, channel))

    def _register_channel(self, guild: Guild, ch: Channel) -> None:
        guild.channels[ch.id] = ch
        self.channels[ch.id] = ch
        self.channel_messages[ch.id] = []

    # -- lookups --------------------------------------------------------------------------------

    def user(self, who: UserLike) -> User:
        uid = who if isinstance(who, int) else who.id
        try:
            return self.users[uid]
        except KeyError:
            raise FakeUsageError(f"unknown user {who!r}") from None

    def member(self, guild: Guild, who: UserLike) -> Member:
        uid = who if isinstance(who, int) else who.id
        try:
            return guild.members[uid]
        except KeyError:
            raise FakeUsageError(f"{who!r} is not a member of {guild!r}") from None

    def channel(self, cid: int | str) -> Channel:
        ch = self.channels.get(int(cid))
        if ch is None or ch.deleted:
            raise unknown_channel()
        return ch

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    def bot_member(self, guild: Guild) -> Member:
        return guild.members[self.bot.id]

    def bot_role(self, guild: Guild) -> Role:
        assert guild.bot_role_id is not None
        return guild.roles[guild.bot_role_id]

    def permissions(self, channel: Channel, who: UserLike) -> int:
        """``who``'s permissions in ``channel`` (everything in DMs)."""
        guild = self.guild_of(channel)
        uid = who if isinstance(who, int) else who.id
        return (1 << 51) - 1 if guild is None else channel_permissions(guild, channel, uid)

    def require(self, channel: Channel, permission: int) -> None:
        """Refuse a bot REST call like Discord: 50001 without VIEW_CHANNEL, else 50013."""
        perms = self.permissions(channel, self.bot.id)
        if not perms & VIEW_CHANNEL:
            raise missing_access()
        if perms & permission != permission:
            raise missing_permissions()

    def messages(
        self, channel: Channel, *, include_deleted: bool = False, as_user: UserLike | None = None
    ) -> list[Message]:
        """Messages in ``channel``, oldest first; ``as_user`` hides ephemerals meant for others."""
        viewer = None if as_user is None else self.user(as_user).id
        return [
            m
            for m in self.channel_messages.get(channel.id, [])
            if (include_deleted or not m.deleted) and (viewer is None or m.visible_to in (None, viewer))
        ]

    def all_messages(self) -> list[Message]:
        return sorted((m for m in self.message_by_id.values() if not m.deleted), key=lambda m: m.id)

    def webhook_named(self, channel: Channel, name: str) -> Webhook | None:
        return next((w for w in self.webhooks.values() if w.channel_id == channel.id and w.name == name), None)

    def describe(self, channel: Channel | None = None, *, last: int = 10) -> str:
        """A human-readable dump of recent messages, for assertion and timeout messages."""
        chans = [channel] if channel is not None else [c for c in self.channels.values() if self.messages(c)]
        lines: list[str] = []
        for ch in chans:
            lines.append(f"#{ch.name or 'dm'} ({ch.id}):")
            msgs = self.messages(ch, include_deleted=True)[-last:]
            lines += [f"  {_describe_message(m)}" for m in msgs] or ["  (no messages)"]
        return "\n".join(lines) or "(no messages anywhere)"


def _describe_message(m: Message) -> str:
    tags = [t for t, on in (("ephemeral", m.ephemeral), ("loading", m.loading), ("deleted", m.deleted)) if on]
    extra = f" [{', '.join(tags)}]" if tags else ""
    bits = [repr(m.content[:200])]
    bits += [f"embed{{{e.get('title') or ''!r}: {(e.get('description') or '')[:120]!r}}}" for e in m.embeds]
    if m.custom_ids:
        bits.append(f"components={m.custom_ids}")
    if m.attachments:
        bits.append(f"files={[a.filename for a in m.attachments]}")
    return f"{m.id} {m.username}{extra}: {' '.join(bits)} (edits: {len(m.edits)})"


def _describe_predicate(predicate: Callable[[], object]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


def _short(value: object, limit: int = 160) -> str:
    text = "" if value is None else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _id(obj: Any) -> int:
    return obj if isinstance(obj, int) else int(obj.id)
