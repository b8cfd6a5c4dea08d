"""The server's own Discord AutoMod keyword rules, applied to what the bot writes. Knows nothing of Discord.

Discord's AutoMod checks what members post; the bot's generated text goes out as the bot's own edits
and is not checked by Discord. Applying the same rules here means moderators keep one list.

Matching follows Discord's keyword syntax (case-insensitive): `cat` matches the whole word only,
`cat*` words starting with it, `*cat` words ending with it, `*cat*` it anywhere inside a word;
phrases match across any run of spaces. `allow_list` entries use the same syntax and exempt the words
they match. `regex_patterns` run with the `regex` package, case-insensitive, each search limited to
REGEX_TIMEOUT_S (Discord uses Rust's linear-time engine; a Python backtracking pattern could hang the
bot, so a search that runs out of time does not match and is logged). Zero-width and bidi control
characters are removed first, so they cannot split a word to slip past.

Rules come from a loader (the cog reads `guild.fetch_automod_rules()` when the bot may) once per
server, then stay cached; the cog updates the cache on AUTO_MODERATION_RULE_CREATE/UPDATE/DELETE.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import regex

log = logging.getLogger(__name__)

REGEX_TIMEOUT_S = 0.05
UNREADABLE_RETRY_S = 600.0  # a server whose rules the bot may not read is asked again after this
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")


@dataclass(frozen=True)
class KeywordRule:
    id: int
    name: str
    keywords: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    enabled: bool = True


Loader = Callable[[int], Awaitable[list[KeywordRule] | None]]  # None: the bot may not read them


def normalize(text: str) -> str:
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _wildcard(entry: str, *, whole: bool) -> re.Pattern[str] | None:
    """A keyword (or allow-list entry) in Discord's syntax as a pattern over normalized text.

    `whole`: the pattern must be the whole of a matched word (for allow-list checks)."""
    entry = normalize(entry.strip())
    core = entry.strip("*")
    if not core:
        return None
    body = r"\s+".join(re.escape(part) for part in core.split())
    left = r"\w*" if entry.startswith("*") else ("" if whole else r"(?<!\w)")
    right = r"\w*" if entry.endswith("*") else ("" if whole else r"(?!\w)")
    return re.compile(left + body + right)


@dataclass
class _Compiled:
    rule: KeywordRule
    keywords: list[re.Pattern[str]] = field(default_factory=list)
    regexes: list[regex.Pattern[str]] = field(default_factory=list)
    allow: list[re.Pattern[str]] = field(default_factory=list)

    @classmethod
    def of(cls, rule: KeywordRule) -> _Compiled:
        compiled = cls(rule)
        compiled.keywords = [p for k in rule.keywords if (p := _wildcard(k, whole=False))]
        compiled.allow = [p for a in rule.allow if (p := _wildcard(a, whole=True))]
        for pattern in rule.regexes:
            try:
                compiled.regexes.append(regex.compile(pattern, regex.IGNORECASE | regex.V0))
            except regex.error:
                log.warning("AutoMod rule %r: cannot use the pattern %r", rule.name, pattern)
        return compiled

    def matches(self, text: str) -> str | None:
        """The first matched text that no allow-list entry exempts, or None."""
        for pattern in self.keywords:
            for hit in pattern.finditer(text):
                if not self._allowed(hit.group()):
                    return hit.group()
        for pattern in self.regexes:
            try:
                for hit in pattern.finditer(text, timeout=REGEX_TIMEOUT_S):
                    if hit.group() and not self._allowed(hit.group()):
                        return hit.group()
            except TimeoutError:
                log.warning("AutoMod rule %r: the pattern %r ran out of time", self.rule.name, pattern.pattern)
        return None

    def _allowed(self, matched: str) -> bool:
        return any(a.fullmatch(matched) or a.fullmatch(word) for a in self.allow for word in matched.split())


def first_match(rules: Iterable[KeywordRule], text: str) -> tuple[KeywordRule, str] | None:
    """The first enabled rule that `text` breaks, with what matched (uncached; for tests and tools)."""
    normalized = normalize(text)
    for rule in rules:
        if rule.enabled and (hit := _Compiled.of(rule).matches(normalized)) is not None:
            return rule, hit
    return None


class AutoModRules:
    """The cached rules of every server; `check` is an output check (see bot.safety)."""

    def __init__(self, loader: Loader | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.loader = loader
        self._clock = clock
        self._rules: dict[int, dict[int, _Compiled]] = {}
        self._retry_at: dict[int, float] = {}  # servers whose rules could not be read
        self._locks: dict[int, asyncio.Lock] = {}

    async def check(self, guild_id: int, text: str) -> str | None:
        """A reason naming the rule that `text` breaks, or None."""
        rules = await self._of(guild_id)
        if not rules:
            return None
        normalized = normalize(text)
        for compiled in rules.values():
            if compiled.rule.enabled and compiled.matches(normalized) is not None:
                return f"this server's AutoMod rule “{compiled.rule.name}”"
        return None

    def put(self, guild_id: int, rule: KeywordRule) -> None:
        """A rule was created or changed (only known servers are kept; others load in full when needed)."""
        if guild_id in self._rules:
            self._rules[guild_id][rule.id] = _Compiled.of(rule)

    def drop(self, guild_id: int, rule_id: int) -> None:
        self._rules.get(guild_id, {}).pop(rule_id, None)

    def forget(self, guild_id: int) -> None:
        """Read the server's rules again next time (e.g. the bot's permissions changed)."""
        self._rules.pop(guild_id, None)
        self._retry_at.pop(guild_id, None)

    async def _of(self, guild_id: int) -> dict[int, _Compiled]:
        if guild_id in self._rules:
            return self._rules[guild_id]
        if self.loader is None or self._clock() < self._retry_at.get(guild_id, 0.0):
            return {}
        async with self._locks.setdefault(guild_id, asyncio.Lock()):
            if guild_id in self._rules:
                return self._rules[guild_id]
            loaded = await self.loader(guild_id)
            if loaded is None:
                self._retry_at[guild_id] = self._clock() + UNREADABLE_RETRY_S
                return {}
            self._rules[guild_id] = {r.id: _Compiled.of(r) for r in loaded}
            return self._rules[guild_id]
