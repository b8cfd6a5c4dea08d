"""What never goes into training data: mentions, user ids, a server's blocked words, chat control tokens."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bot.text import strip_bidi

_ZW = "[\u200b\u200c\u200d\u2060\ufeff]*"  # the bot defuses mentions with zero-width spaces
_USER = re.compile(rf"<{_ZW}@{_ZW}!?{_ZW}\d+{_ZW}>")
_ROLE = re.compile(rf"<{_ZW}@{_ZW}&{_ZW}\d+{_ZW}>")
_CHANNEL = re.compile(rf"<{_ZW}#{_ZW}\d+{_ZW}>")
_MASS = re.compile(rf"@{_ZW}(everyone|here)\b", re.IGNORECASE)
_SNOWFLAKE = re.compile(r"(?<!\d)\d{15,21}(?!\d)")  # Discord ids: user, server, channel, message
# Chat-template control tokens of the common model families (ChatML/SmolLM2, Llama 3, Mistral, Gemma, Phi).
_CONTROL_TOKENS = re.compile(
    r"<\|[A-Za-z0-9_.:\-]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|<\|?(?:bos|eos|pad)\|?>"
)
REDACTED = "[redacted]"


def blocked_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for a server's blocked words and phrases, matched as whole words."""
    cleaned = sorted({" ".join(unicodedata.normalize("NFKC", w).casefold().split()) for w in words} - {""}, key=len)
    if not cleaned:
        return None
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in reversed(cleaned))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def scrub(text: str, blocked: re.Pattern[str] | None = None) -> str:
    """The text as it may be trained on: nobody named by id, nothing blocked, no template control tokens."""
    text = strip_bidi(unicodedata.normalize("NFC", text))
    text = _CONTROL_TOKENS.sub("", text)
    text = _USER.sub("someone", text)
    text = _ROLE.sub("a role", text)
    text = _CHANNEL.sub("a channel", text)
    text = _MASS.sub(lambda m: m.group(1).lower(), text)
    text = _SNOWFLAKE.sub("[id]", text)
    if blocked is not None:
        text = blocked.sub(REDACTED, unicodedata.normalize("NFKC", text))
    return text.strip()


def scrub_messages(messages: list[dict[str, str]], blocked: re.Pattern[str] | None = None) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": scrub(m["content"], blocked)} for m in messages]
