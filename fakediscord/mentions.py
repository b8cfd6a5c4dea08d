"""Which users, roles and @everyone a message would ping, given its content and ``allowed_mentions``.

Discord's rules (https://discord.com/developers/docs/resources/message#allowed-mentions-object):
no ``allowed_mentions`` means everything in the content is parsed; ``parse`` lists the kinds parsed
wholesale; ``users``/``roles`` whitelist ids; ``replied_user`` pings the author of the message being
replied to (pinged by default only when ``allowed_mentions`` is absent). Edits re-parse with the edit's
own ``allowed_mentions`` (absent again means default parsing). Permissions are deliberately ignored:
a message counts as pinging @everyone even if the bot lacked MENTION_EVERYONE, because the test's
question is "did the bot ask to ping", and the answer must not depend on the guild's setup.
"""

from __future__ import annotations

import re

from .models import JSON, Mentions

USER_RE = re.compile(r"<@!?(\d{15,21})>")
ROLE_RE = re.compile(r"<@&(\d{15,21})>")
EVERYONE_RE = re.compile(r"@(everyone|here)\b")


def parse_mentions(
    content: str,
    allowed: JSON | None,
    *,
    known_roles: set[int] | None = None,
    replied_user: int | None = None,
) -> Mentions:
    """Apply Discord's rules to ``content``; ``known_roles`` filters role ids to real roles."""
    users = {int(m) for m in USER_RE.findall(content)}
    roles = {int(m) for m in ROLE_RE.findall(content)}
    if known_roles is not None:
        roles &= known_roles
    everyone = bool(EVERYONE_RE.search(content))
    if allowed is None:
        if replied_user is not None:
            users.add(replied_user)
        return Mentions(frozenset(users), frozenset(roles), everyone)

    parse = set(allowed.get("parse") or [])
    allowed_users = {int(u) for u in allowed.get("users") or []}
    allowed_roles = {int(r) for r in allowed.get("roles") or []}
    pinged_users = users if "users" in parse else users & allowed_users
    pinged_roles = roles if "roles" in parse else roles & allowed_roles
    if replied_user is not None and allowed.get("replied_user"):
        pinged_users = pinged_users | {replied_user}
    return Mentions(frozenset(pinged_users), frozenset(pinged_roles), everyone and "everyone" in parse)


def allowed_mentions_errors(allowed: JSON | None) -> JSON | None:
    """Discord rejects ``parse: ["users"]`` together with a ``users`` list (and likewise roles)."""
    if not allowed:
        return None
    parse = set(allowed.get("parse") or [])
    errors: JSON = {}
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errors[kind] = {
                "_errors": [
                    {
                        "code": "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                        "message": f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                    }
                ]
            }
    bad = parse - {"users", "roles", "everyone"}
    if bad:
        errors["parse"] = {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": f"Invalid values {bad}."}]}
    return {"allowed_mentions": errors} if errors else None
