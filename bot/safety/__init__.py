"""Safety checks on what the bot writes. Knows nothing of Discord.

An output check takes (guild id, text) and answers a reason to withhold the text, or None. The
safety gate (`bot.safety.gate`) holds the server's extra checks (its AutoMod rules) and runs them on every
finished text; `objection()` asks them while a text still streams, so what breaks them is never shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

OutputCheck = Callable[[int, str], Awaitable[str | None]]


async def objection(checks: Sequence[OutputCheck], guild_id: int, text: str) -> str | None:
    """The first check's reason to withhold `text`, or None if every check lets it through."""
    for check in checks:
        reason = await check(guild_id, text)
        if reason:
            return reason
    return None
