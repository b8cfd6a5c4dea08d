"""Whether a member may use a feature here and now: where the bot is active, which features are on, who may
start stories, per-user cooldowns and the per-server limit on texts being written at once."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator

from bot.config import ConfigSnapshot
from bot.errors import NotAllowed

NAMES = {"poems": "Poems", "stories": "Stories", "lore": "Lore", "npcs": "NPCs", "rewrite": "Rewrites"}
COMMANDS = {"poems": "`/poem`", "stories": "`/story`", "lore": "`/lore`"}


class Busy(NotAllowed):
    """The server already has as many texts being written as its moderators allow."""


class UsageLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._now = clock
        self._last: dict[tuple[int, int, str], float] = {}  # (guild, user, feature) -> when last admitted
        self._running: dict[int, int] = {}  # guild -> texts being written

    def admit(self, settings: ConfigSnapshot, guild_id: int, user_id: int, feature: str, *, generates: bool) -> None:
        """`check`, then count the use for the cooldown."""
        self.check(settings, guild_id, user_id, feature, generates=generates)
        self.used(guild_id, user_id, feature)

    def used(self, guild_id: int, user_id: int, feature: str) -> None:
        self._last[(guild_id, user_id, feature)] = self._now()

    def check(self, settings: ConfigSnapshot, guild_id: int, user_id: int, feature: str, *, generates: bool) -> None:
        """Raise NotAllowed (Busy for the concurrency limit) with what to do, or return."""
        if not settings.active:
            raise NotAllowed("Taleweaver is not active in this channel. A moderator can change that with `/config`.")
        if not settings.enabled(feature):
            name = NAMES.get(feature, feature.title())
            verb = "are" if name.endswith("s") else "is"
            raise NotAllowed(f"{name} {verb} turned off in this channel by the moderators.")
        key = (guild_id, user_id, feature)
        wait = settings.cooldown(feature)
        last = self._last.get(key)
        if wait and last is not None and (left := last + wait - self._now()) > 0:
            raise NotAllowed(
                f"⏳ Slow down a little: you can use {COMMANDS.get(feature, feature)} again in {_left(left)}."
            )
        if generates and self._running.get(guild_id, 0) >= settings.max_concurrent:
            raise Busy(
                f"This server already has {settings.max_concurrent} texts being written, as many as its moderators "
                "allow at once. Please try again when one is finished."
            )

    def check_starter(self, settings: ConfigSnapshot, role_ids: frozenset[int], is_moderator: bool) -> None:
        role = settings.story_starter_role
        if role is not None and role not in role_ids and not is_moderator:
            raise NotAllowed(f"Only members with the <@&{role}> role (or moderators) can start stories here.")

    @contextlib.contextmanager
    def writing(self, guild_id: int) -> Iterator[None]:
        """Count a text being written for its server while the block runs."""
        self._running[guild_id] = self._running.get(guild_id, 0) + 1
        try:
            yield
        finally:
            self._running[guild_id] -= 1
            if not self._running[guild_id]:
                del self._running[guild_id]

    def running(self, guild_id: int) -> int:
        return self._running.get(guild_id, 0)


def _left(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
