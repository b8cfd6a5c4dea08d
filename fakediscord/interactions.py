"""Interactions: what the fake sends (INTERACTION_CREATE) and what it accepts back (callback, follow-ups).

Discord's rules enforced here, because a bot that breaks them fails in production:
- exactly one callback per interaction (a second gets 400, code 40060);
- the callback must arrive within 3 s of the interaction (later gets 404, code 10062);
- follow-ups and ``@original`` only exist after the callback (before it: 404, code 10015);
- the first follow-up after a "thinking" defer (type 5) replaces the loading message instead of
  posting a new one, and inherits the defer's ephemerality;
- each callback type is only valid for some interaction types (a modal cannot answer a modal).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import payloads
from .components import validate_modal
from .errors import APIError, field_error, invalid_form, unknown_message, unknown_webhook
from .ids import new_token
from .messaging import Upload, create_message, delete_message, edit_message
from .models import JSON, Channel, Guild, Message, MessageFlag, User

if TYPE_CHECKING:
    from .store import Store

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
ALLOWED_RESPONSES = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


@dataclass(eq=False)
class FakeInteraction:
    """One interaction a test started, and everything the bot did in answer to it."""

    id: int
    token: str
    type: int
    user: User
    channel: Channel
    guild: Guild | None
    data: JSON
    store: Store = field(repr=False)
    command_name: str | None = None
    source_message_id: int | None = None  # the message whose component was used
    parent: FakeInteraction | None = None  # for a modal submit: the interaction that showed the modal
    created_at: float = field(default_factory=time.monotonic)
    response_type: int | None = None
    response_data: JSON | None = None
    acked_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    rejected_callbacks: list[APIError] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from dispatching INTERACTION_CREATE to receiving the callback."""
        return None if self.acked_at is None else self.acked_at - self.created_at

    @property
    def deferred(self) -> bool:
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE)

    @property
    def ephemeral(self) -> bool:
        """Whether the callback asked for an ephemeral response (flag 64)."""
        flags = int((self.response_data or {}).get("flags") or 0)
        return bool(flags & MessageFlag.EPHEMERAL)

    @property
    def modal(self) -> JSON | None:
        """The modal the bot showed (callback type 9): ``{"custom_id", "title", "components"}``."""
        return self.response_data if self.response_type == MODAL else None

    @property
    def choices(self) -> list[JSON] | None:
        """Autocomplete choices the bot returned (callback type 8)."""
        if self.response_type != AUTOCOMPLETE_RESULT:
            return None
        return list((self.response_data or {}).get("choices") or [])

    @property
    def original(self) -> Message | None:
        return self.store.message_by_id.get(self.original_message_id) if self.original_message_id else None

    @property
    def followups(self) -> list[Message]:
        return [self.store.message_by_id[i] for i in self.followup_ids]

    async def wait_acknowledged(self, timeout: float = 3.0) -> FakeInteraction:  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        """Until the bot's callback arrived; fails if that takes longer than ``timeout``."""
        await self.store.wait_for(lambda: self.acknowledged, timeout, channel=self.channel, what=f"ack of {self!r}")
        return self

    async def wait_original(self, timeout: float = 10.0) -> Message:  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        """The original response once it shows something (sent directly, or deferred then edited)."""

        def ready() -> Message | None:
            msg = self.original
            return msg if msg is not None and not msg.loading else None

        return await self.store.wait_for(ready, timeout, channel=self.channel, what=f"original response of {self!r}")

    async def wait_followups(self, count: int = 1, timeout: float = 10.0) -> list[Message]:  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        await self.store.wait_for(
            lambda: len(self.followup_ids) >= count, timeout, channel=self.channel, what=f"{count} follow-ups"
        )
        return self.followups

    def __repr__(self) -> str:
        what = self.command_name or self.data.get("custom_id") or self.type
        return f"<FakeInteraction {what!r} id={self.id} by {self.user.name} response={self.response_type}>"


def start_interaction(
    store: Store,
    kind: int,
    user: User,
    channel: Channel,
    data: JSON,
    *,
    command_name: str | None = None,
    source: Message | None = None,
    parent: FakeInteraction | None = None,
) -> FakeInteraction:
    """Create the interaction and dispatch INTERACTION_CREATE; the 3 s clock starts now."""
    ix = FakeInteraction(
        store.ids.next(), new_token("aW50ZXJhY3Rpb24"), kind, user, channel, store.guild_of(channel), data, store
    )
    ix.command_name, ix.parent = command_name, parent
    ix.source_message_id = source.id if source is not None else None
    store.interactions[ix.id] = ix
    store.dispatch("INTERACTION_CREATE", interaction_payload(store, ix))
    return ix


def interaction_payload(store: Store, ix: FakeInteraction) -> JSON:
    ch = ix.channel
    channel_data = payloads.channel(store, ch)
    channel_data["permissions"] = str(store.permissions(ch, ix.user.id))
    data: JSON = {
        "id": str(ix.id),
        "application_id": str(store.application_id),
        "type": ix.type,
        "data": ix.data,
        "token": ix.token,
        "version": 1,
        "channel_id": str(ch.id),
        "channel": channel_data,
        "locale": "en-US",
        "app_permissions": str(store.permissions(ch, store.bot.id)),
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if ix.guild is not None:
        member = payloads.member(ix.guild.members[ix.user.id], permissions=store.permissions(ch, ix.user.id))
        data.update(
            guild_id=str(ix.guild.id),
            guild={"id": str(ix.guild.id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=member,
            context=0,
            authorizing_integration_owners={"0": str(ix.guild.id)},
        )
    else:
        data.update(user=payloads.user(ix.user), context=1, authorizing_integration_owners={"0": "0"})
    if ix.source_message_id is not None:
        data["message"] = payloads.message(store, store.message_by_id[ix.source_message_id])
    return data


def handle_callback(store: Store, ix: FakeInteraction, body: JSON, uploads: Sequence[Upload]) -> JSON:
    """POST /interactions/{id}/{token}/callback."""
    now = time.monotonic()
    if ix.acknowledged:
        error = APIError(400, 40060, "Interaction has already been acknowledged.")
        ix.rejected_callbacks.append(error)
        raise error
    if store.ack_deadline is not None and now - ix.created_at > store.ack_deadline:
        error = APIError(404, 10062, "Unknown interaction")
        ix.rejected_callbacks.append(error)
        raise error
    rtype = int(body.get("type", 0))
    data = dict(body.get("data") or {})
    if rtype not in ALLOWED_RESPONSES.get(ix.type, set()) or (
        rtype in (DEFERRED_UPDATE, UPDATE_MESSAGE) and ix.source_message_id is None
    ):
        raise invalid_form({"type": field_error("INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid type {rtype}")})
    message = _respond(store, ix, rtype, data, uploads)
    ix.response_type, ix.response_data, ix.acked_at = rtype, data, now
    store.changed()
    result: JSON = {
        "interaction": {
            "id": str(ix.id),
            "type": ix.type,
            "activity_instance_id": None,
            "response_message_id": str(message.id) if message else None,
            "response_message_loading": bool(message and message.loading),
            "response_message_ephemeral": bool(message and message.ephemeral),
        },
        "resource": {"type": rtype},
    }
    if message is not None and rtype in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
        result["resource"]["message"] = payloads.message(store, message)
    return result


def _respond(store: Store, ix: FakeInteraction, rtype: int, data: JSON, uploads: Sequence[Upload]) -> Message | None:
    if rtype == CHANNEL_MESSAGE:
        msg = _create(store, ix, data, uploads, msg_type=_message_type(ix))
        ix.original_message_id = msg.id
        return msg
    if rtype == DEFERRED_CHANNEL_MESSAGE:
        flags = MessageFlag.LOADING | (int(data.get("flags") or 0) & MessageFlag.EPHEMERAL)
        msg = _create(store, ix, {}, (), msg_type=_message_type(ix), extra_flags=flags)
        ix.original_message_id = msg.id
        return msg
    if rtype in (DEFERRED_UPDATE, UPDATE_MESSAGE):
        source = store.message_by_id[ix.source_message_id or 0]
        ix.original_message_id = source.id
        if rtype == UPDATE_MESSAGE:
            edit_message(store, source, data, uploads)
        return source
    if rtype == MODAL:
        validate_modal(data)
    elif rtype == AUTOCOMPLETE_RESULT:
        _validate_choices(data.get("choices") or [])
    return None


def _message_type(ix: FakeInteraction) -> int:
    """CHAT_INPUT_COMMAND (20) or CONTEXT_MENU_COMMAND (23) for commands, DEFAULT otherwise."""
    if ix.type != APPLICATION_COMMAND:
        return 0
    return 20 if int(ix.data.get("type", 1)) == 1 else 23


def _create(
    store: Store, ix: FakeInteraction, data: JSON, uploads: Sequence[Upload], *, msg_type: int, extra_flags: int = 0
) -> Message:
    return create_message(
        store,
        ix.channel,
        store.bot,
        data,
        uploads,
        webhook_id=store.application_id,
        interaction_id=ix.id,
        visible_to=ix.user.id,
        msg_type=msg_type,
        extra_flags=extra_flags,
    )


def _validate_choices(choices: list[JSON]) -> None:
    if len(choices) > 25:
        raise invalid_form({"data": {"choices": field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")}})
    for i, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name", ""))) <= 100 or len(str(choice.get("value", ""))) > 100:
            raise invalid_form({"data": {"choices": {str(i): field_error("BASE_TYPE_BAD_LENGTH", "Must be 1-100.")}}})


def find_by_token(store: Store, token: str) -> FakeInteraction | None:
    return next((ix for ix in store.interactions.values() if ix.token == token), None)


def followup(store: Store, ix: FakeInteraction, body: JSON, uploads: Sequence[Upload]) -> Message:
    """POST /webhooks/{application_id}/{token}: a follow-up message."""
    if not ix.acknowledged:
        raise unknown_webhook()
    original = ix.original
    if ix.response_type == DEFERRED_CHANNEL_MESSAGE and original is not None and original.loading:
        edit_message(store, original, body, uploads)  # the first follow-up resolves "thinking..."
        msg = original
    else:
        msg = _create(store, ix, body, uploads, msg_type=0)
    ix.followup_ids.append(msg.id)
    store.changed()
    return msg


def response_message(store: Store, ix: FakeInteraction, message_id: str) -> Message:
    """``@original`` or a follow-up id, as the interaction webhook routes address them."""
    if not ix.acknowledged:
        raise unknown_webhook()
    if message_id == "@original":
        msg = ix.original
    else:
        mid = int(message_id)
        msg = store.message_by_id.get(mid) if mid in (ix.original_message_id, *ix.followup_ids) else None
    if msg is None or msg.deleted:
        raise unknown_message()
    return msg


def edit_response(store: Store, ix: FakeInteraction, message_id: str, body: JSON, uploads: Sequence[Upload]) -> Message:
    return edit_message(store, response_message(store, ix, message_id), body, uploads)


def delete_response(store: Store, ix: FakeInteraction, message_id: str) -> None:
    delete_message(store, response_message(store, ix, message_id))
