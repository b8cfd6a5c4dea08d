"""The message limits Discord enforces server-side, with its exact error codes.

discord.py checks almost none of these itself (it caps embeds at 10 and little else), so a bot that
streams a 2,001-character reply only finds out from Discord's 400. The fake must answer the same way
for tests to be honest: 50035 "Invalid Form Body" with per-field errors, 50006 for an empty message.
"""

from __future__ import annotations

from typing import Any

from .components import validate_components
from .errors import APIError, field_error, invalid_form
from .mentions import allowed_mentions_errors
from .models import JSON, MessageFlag

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_LIMITS = {"name": 256, "value": 1024}
FIELDS_MAX = 25
# Flags a bot may set when sending; Discord rejects the rest.
SENDABLE_FLAGS = (
    MessageFlag.SUPPRESS_EMBEDS
    | MessageFlag.EPHEMERAL
    | MessageFlag.SUPPRESS_NOTIFICATIONS
    | MessageFlag.IS_COMPONENTS_V2
)
FORBIDDEN_WEBHOOK_NAMES = ("discord", "clyde")


def _max_len(path: list[str | int], limit: int) -> APIError:
    errors: Any = field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    for key in reversed(path):
        errors = {str(key): errors}
    return invalid_form(errors)


def validate_write(payload: JSON, *, is_edit: bool = False) -> None:
    """Check the fields of a message create/edit payload (not yet emptiness; see ``check_not_empty``)."""
    content = payload.get("content")
    if content is not None and len(str(content)) > CONTENT_MAX:
        raise _max_len(["content"], CONTENT_MAX)
    embeds = payload.get("embeds")
    if embeds is not None:
        if len(embeds) > EMBEDS_MAX:
            raise _max_len(["embeds"], EMBEDS_MAX)
        for i, embed in enumerate(embeds):
            validate_embed(embed, i)
    flags = int(payload.get("flags") or 0)
    components = payload.get("components")
    if components:
        validate_components(components, v2=bool(flags & MessageFlag.IS_COMPONENTS_V2))
    if flags & ~SENDABLE_FLAGS:
        raise invalid_form({"flags": field_error("MESSAGE_FLAGS_INVALID", "Invalid flags")})
    errors = allowed_mentions_errors(payload.get("allowed_mentions"))
    if errors:
        raise invalid_form(errors)
    if not is_edit and flags & MessageFlag.IS_COMPONENTS_V2 and (content or embeds):
        raise invalid_form(
            {"content": field_error("MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Cannot use content")}
        )


def validate_embed(embed: JSON, index: int) -> None:
    total = 0
    for key, limit in EMBED_LIMITS.items():
        text = embed.get(key) or ""
        if len(text) > limit:
            raise _max_len(["embeds", index, key], limit)
        total += len(text)
    fields = embed.get("fields") or []
    if len(fields) > FIELDS_MAX:
        raise _max_len(["embeds", index, "fields"], FIELDS_MAX)
    for j, f in enumerate(fields):
        for key, limit in FIELD_LIMITS.items():
            if len(f.get(key) or "") > limit:
                raise _max_len(["embeds", index, "fields", j, key], limit)
            total += len(f.get(key) or "")
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    if len(footer) > 2048:
        raise _max_len(["embeds", index, "footer", "text"], 2048)
    if len(author) > 256:
        raise _max_len(["embeds", index, "author", "name"], 256)
    if total + len(footer) + len(author) > EMBED_TOTAL_MAX:
        raise invalid_form(
            {"embeds": {str(index): field_error("BASE_TYPE_MAX_LENGTH", "Embed size exceeds maximum size of 6000")}}
        )


def check_not_empty(
    content: str | None, embeds: list[JSON], attachments: int, components: list[JSON], payload: JSON
) -> None:
    """Discord refuses a message with nothing to show (code 50006)."""
    if content or embeds or attachments or components or payload.get("sticker_ids") or payload.get("poll"):
        return
    raise APIError(400, 50006, "Cannot send an empty message")


def validate_webhook_name(name: str | None, field: str) -> None:
    """Webhook names and per-message usernames: 1-80 characters, never containing "discord"/"clyde"."""
    if name is None:
        return
    if not 1 <= len(name) <= 80:
        raise invalid_form({field: field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")})
    for word in FORBIDDEN_WEBHOOK_NAMES:
        if word in name.lower():
            raise invalid_form({field: field_error("USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"')})
