"""Snowflakes, tokens and timestamps shaped exactly like Discord's.

discord.py derives ``created_at`` from snowflakes and sorts by them, so ids must be real snowflakes
(milliseconds since the Discord epoch in the top bits) and strictly increasing within one fake.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeGenerator:
    """Hands out valid, strictly increasing snowflakes (timestamp << 22 | worker | process | counter)."""

    def __init__(self, worker: int = 1, process: int = 1) -> None:
        self._prefix = ((worker & 0x1F) << 17) | ((process & 0x1F) << 12)
        self._last_ms = 0
        self._counter = 0

    def next(self) -> int:
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        if now_ms > self._last_ms:
            self._last_ms, self._counter = now_ms, 0
        else:
            self._counter += 1
            if self._counter >= 4096:  # counter exhausted: borrow the next millisecond
                self._last_ms, self._counter = self._last_ms + 1, 0
        return (self._last_ms << 22) | self._prefix | self._counter

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A snowflake whose guild would live on ``shard_id`` of ``shard_count``: Discord's
        ``(guild_id >> 22) % shard_count``. Borrows the next few milliseconds (ids stay increasing)."""
        snowflake = self.next()
        while (snowflake >> 22) % shard_count != shard_id:
            self._last_ms, self._counter = self._last_ms + 1, 0
            snowflake = (self._last_ms << 22) | self._prefix
        return snowflake


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that serves a guild, as Discord computes it."""
    return (guild_id >> 22) % shard_count


def snowflake_time(snowflake: int) -> dt.datetime:
    """The creation time encoded in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(when: dt.datetime | None) -> str | None:
    """Discord's timestamp format (ISO 8601 with an explicit +00:00 offset)."""
    return None if when is None else when.astimezone(dt.UTC).isoformat()


def new_token(prefix: str = "") -> str:
    """An opaque token (interaction and webhook tokens are 68+ url-safe characters on Discord)."""
    return prefix + secrets.token_urlsafe(51)
