"""The safety gate: every request's text before it reaches the model, every generated text before it is
kept or shown. Discord-free; the cogs pass the resolved settings of where it happens."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache

from bot.config import ConfigSnapshot
from bot.errors import UserFacingError
from bot.safety import objection
from bot.safety.matcher import Matcher, digest
from bot.text import quote
from storage import guilds
from storage.db import Database

log = logging.getLogger(__name__)

OutputCheck = Callable[[int, str], Awaitable[str | None]]  # (guild id, text) -> why it must be withheld, or None
WITHHELD = "🛡️ *This text was withheld: it went against this server's rules.*"


class Blocked(UserFacingError):
    """A request was refused by the gate; the message says why (only its author sees it)."""


@dataclass(frozen=True)
class SafetyContext:
    guild_id: int
    channel_id: int | None
    user_id: int | None  # who asked for it (None: the story's narrator, unprompted)
    feature: str  # poems, stories, lore, ...
    settings: ConfigSnapshot


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    text: str  # what to use: the input as given, or the output redacted ("" when withheld)
    reason: str = ""  # for the user, when it blocked or changed something
    rules: tuple[int, ...] = ()  # the blocked entries that matched (indexes, never the words)


@lru_cache(maxsize=256)
def _matcher(terms: tuple[str, ...]) -> Matcher:
    return Matcher(list(terms))


@dataclass
class SafetyGate:
    db: Database
    output_checks: list[OutputCheck] = field(default_factory=list)  # e.g. the server's AutoMod keyword rules

    def matcher(self, settings: ConfigSnapshot) -> Matcher:
        return _matcher(tuple(settings.blocked_words))

    async def check_input(self, context: SafetyContext, text: str, *, field_name: str = "text") -> Verdict:
        """Refuse a request that contains a blocked word, saying which (only its author sees it)."""
        matcher = self.matcher(context.settings)
        hits = matcher.find(text)
        if not hits:
            return Verdict(True, text)
        found = text[hits[0].start : hits[0].end]
        rules = tuple(sorted({h.rule for h in hits}))
        await self._audit(context, "safety.input_refused", rules)
        reason = (
            f"Your {field_name} contains “{quote(found, 40)}”, which this server's moderators have blocked. "
            "Please rephrase it."
        )
        return Verdict(False, text, reason, rules)

    async def screen(self, context: SafetyContext, fields: dict[str, str]) -> None:
        """Check each named input (`{"topic": ...}`); raise Blocked with the first refusal."""
        for name, text in fields.items():
            if text:
                verdict = await self.check_input(context, text, field_name=name)
                if not verdict.allowed:
                    raise Blocked(verdict.reason)

    def preview(self, settings: ConfigSnapshot, text: str) -> str:
        """What may be shown of a text still being written: blocked words already blacked out."""
        if settings.blocked_output_action == "withhold" and self.matcher(settings).find(text):
            return "🛡️ …"
        return self.matcher(settings).redact(text)

    async def check_output(self, context: SafetyContext, text: str) -> Verdict:
        """Redact (or withhold, as the moderators chose) blocked words in generated text; withhold it when an
        extra check (such as the server's AutoMod rules) objects."""
        if why := await objection(self.output_checks, context.guild_id, text):
            await self._audit(context, "safety.output_withheld", (), check=why[:100])
            return Verdict(False, "", why)
        matcher = self.matcher(context.settings)
        hits = matcher.find(text)
        if not hits:
            return Verdict(True, text)
        rules = tuple(sorted({h.rule for h in hits}))
        if context.settings.blocked_output_action == "withhold":
            await self._audit(context, "safety.output_withheld", rules)
            return Verdict(False, "", "The text contained a word this server's moderators have blocked.", rules)
        await self._audit(context, "safety.output_redacted", rules)
        return Verdict(True, matcher.redact(text, hits), "Blocked words were blacked out.", rules)

    async def _audit(self, context: SafetyContext, action: str, rules: tuple[int, ...], **extra: object) -> None:
        terms = context.settings.blocked_words
        detail: dict[str, object] = {"feature": context.feature}
        if context.channel_id:
            detail["channel"] = context.channel_id
        if rules:
            detail["rules"] = [f"#{r + 1}:{digest(terms[r])}" for r in rules if r < len(terms)]
        async with self.db.transaction() as conn:
            await guilds.audit(conn, context.guild_id, context.user_id or 0, action, **detail, **extra)


def rating_rules(settings: ConfigSnapshot, *, language: bool = True) -> str:
    """What every system prompt adds for this place: the content rating, the style note, the language."""
    if settings.content_rating == "mature":
        parts = ["Mature themes are allowed here, but never sexual content involving minors or real people."]
    else:
        parts = ["Keep everything suitable for all ages: no sexual content, no graphic violence or gore, no slurs."]
    if settings.style_note:
        parts.append(f"The server's style note (follow it where it does not break these rules): {settings.style_note}")
    if language and settings.language:
        parts.append(f"Write in {settings.language}.")
    return " ".join(parts)
