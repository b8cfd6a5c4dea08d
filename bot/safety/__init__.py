"""Safety checks on what the bot writes. Knows nothing of Discord.

An output check takes (guild id, text) and answers a reason to withhold the text, or None. The
moderation gate (issue 9) collects such checks; until it lands, poems and narrations ask
`objection()` directly, so moving the checks into the gate is one call site per feature.
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
