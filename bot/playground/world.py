"""The playground's server on the fake Discord: the guild Playground, its channels and its people."""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Iterator

from bot.playground.commands import InputError
from fakediscord import Channel, FakeDiscord, Guild, Role, User
from fakediscord.ids import DISCORD_EPOCH_MS

STABLE_MS = 1_704_067_200_000 - DISCORD_EPOCH_MS  # 2024-01-01: older than any message id
NAME = re.compile(r"^[\w.-]{1,32}$")


class World:
    """Users, channels and threads by name, created on first mention, with the same ids every session."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        you = self.user("you")
        with stable_ids(fake, "guild:Playground"):
            self.guild: Guild = fake.add_guild("Playground", owner=you)  # the owner may use moderator commands
        for name in ("alice", "bob"):
            self.join(self.user(name))
        self.you, self.tavern = you, self.channel("tavern")
        self.channel("library")
        self.thread("side-quest", under=self.tavern, owner=you)

    def user(self, name: str) -> User:
        name = name.lstrip("@")
        if not NAME.match(name):
            raise InputError("Act as whom? :as alice (a name of letters, digits, . _ or -)")
        found = next((u for u in self.fake.users.values() if u.name.casefold() == name.casefold() and not u.bot), None)
        if found is not None:
            return found
        with stable_ids(self.fake, f"user:{name.casefold()}"):
            return self.fake.add_user(name)

    def join(self, user: User) -> bool:
        """Make `user` a member of the server; False if they were one already."""
        if user.id in self.guild.members:
            return False
        self.fake.add_member(self.guild, user)
        return True

    def channel(self, name: str) -> Channel:
        name = _channel_name(name, "Which channel? :channel library")
        found = self._find(name)
        if found is None:
            with stable_ids(self.fake, f"channel:{name}"):
                found = self.fake.add_channel(self.guild, name)
        return found

    def thread(self, name: str, *, under: Channel, owner: User) -> Channel:
        name = _channel_name(name, "Which thread? :thread side-quest")
        found = self._find(name)
        if found is None:
            parent = self.fake.channels[under.parent_id] if under.parent_id else under
            with stable_ids(self.fake, f"thread:{parent.name}/{name}"):
                found = self.fake.add_thread(parent, name, owner=owner)
        return found

    def role_verb(self, user: User, arg: str) -> list[str]:
        """`:role NAME` gives `user` the role (created if new), `:role -NAME` takes it, `:role` lists them."""
        if not arg:
            return self.describe_roles()
        give = not arg.startswith("-")
        role, created = self.role(arg.lstrip("-"))
        said = [f"(the role @{role.name} is created in the server Playground)"] if created else []
        changed = self.set_role(user, role, give=give)
        if give:
            return [*said, f"{user.name} {'now has' if changed else 'already has'} the role @{role.name}."]
        return [*said, f"{user.name} {'no longer has' if changed else 'does not have'} the role @{role.name}."]

    def role(self, name: str) -> tuple[Role, bool]:
        """The server's role called `name`, created (with no permissions) if there is none. (role, created)"""
        name = name.strip().lstrip("@")
        if not NAME.match(name):
            raise InputError("Which role? :role Keepers (a name of letters, digits, . _ or -)")
        if name.casefold() in ("everyone", "here"):
            raise InputError("Everybody has @everyone already; give a role of its own, e.g. :role Keepers")
        found = next((r for r in self.guild.roles.values() if r.name.casefold() == name.casefold()), None)
        if found is not None:
            if found.managed:
                raise InputError(f"@{found.name} is the bot's own role; nobody else can be given it.")
            return found, False
        with stable_ids(self.fake, f"role:{name.casefold()}"):  # a stored moderator role keeps working
            return self.fake.add_role(self.guild, name), True

    def set_role(self, user: User, role: Role, *, give: bool) -> bool:
        """Give `user` the role or take it away; False if that changes nothing."""
        member = self.fake.member(self.guild, user)
        if (role.id in member.role_ids) == give:
            return False
        roles = [*member.role_ids, role.id] if give else [r for r in member.role_ids if r != role.id]
        self.fake.set_roles(self.guild, user, roles)
        return True

    def describe_roles(self) -> list[str]:
        lines = []
        for role in sorted(self.guild.roles.values(), key=lambda r: -r.position):
            if role.id == self.guild.id or role.managed:
                continue
            holders = [m.user.name for m in self.guild.members.values() if role.id in m.role_ids]
            lines.append(f"  @{role.name}: {', '.join(holders) or 'nobody'}")
        return lines or ["  (no roles yet: :role NAME gives you one, creating it)"]

    def describe_members(self, current: User) -> list[str]:
        lines = []
        for m in self.guild.members.values():
            tags = [t for t, on in (("owner", m.id == self.guild.owner_id), ("bot", m.user.bot)) if on]
            tags += [f"@{self.guild.roles[r].name}" for r in m.role_ids if r in self.guild.roles and r != self.guild.id]
            here = "  ← you act as this user" if m.id == current.id else ""
            lines.append(f"  {m.user.name}" + (f"  ({', '.join(tags)})" if tags else "") + here)
        return lines

    def describe_channels(self, current: Channel) -> list[str]:
        lines = []
        for ch in self.guild.channels.values():
            where = f"thread in #{self.fake.channels[ch.parent_id].name}" if ch.parent_id else "channel"
            lines.append(f"  #{ch.name}  ({where})" + ("  ← you are here" if ch is current else ""))
        return lines

    def _find(self, name: str) -> Channel | None:
        return next((c for c in self.guild.channels.values() if c.name == name and not c.deleted), None)


def _channel_name(name: str, usage: str) -> str:
    name = name.strip().lstrip("#").lower()
    if not NAME.match(name):
        raise InputError(f"{usage} (a name of letters, digits, . _ or -)")
    return name


class StableIds:
    """The same snowflakes for the same names in every session.

    The playground's database keeps guild, channel and user ids; with stable ids they mean the same
    things next time, so the anthology and unfinished stories carry over between sessions.
    """

    def __init__(self, key: str) -> None:
        self._key, self._n = key, 0

    def next(self) -> int:
        self._n += 1
        return (STABLE_MS << 22) | (zlib.crc32(f"{self._key}/{self._n}".encode()) & 0x3FFFFF)


@contextlib.contextmanager
def stable_ids(fake: FakeDiscord, key: str) -> Iterator[None]:
    """Within the block the fake hands out StableIds (it otherwise makes them from the clock)."""
    real, fake.ids = fake.ids, StableIds(key)  # type: ignore[assignment]
    try:
        yield
    finally:
        fake.ids = real
