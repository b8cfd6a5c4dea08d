"""What a test makes human users do: run commands, click, pick, submit modals, post, react.

Each action produces exactly the gateway event a real Discord client's action would (and nothing
the real client could not produce: unknown commands or options, hidden commands, disabled buttons,
other users' ephemeral messages all raise ``FakeUsageError`` with what *is* available).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import payloads
from .commands import build_invocation, context_menu_data
from .components import BUTTON, LINK_STYLE, SELECT_TYPES, check_select_values, find_component, modal_submission
from .errors import FakeUsageError
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeInteraction,
    start_interaction,
)
from .messaging import Upload, add_reaction, create_message, delete_message, edit_message, remove_reaction
from .models import JSON, Channel, Member, Message, User
from .permissions import ADMINISTRATOR, USE_APPLICATION_COMMANDS, VIEW_CHANNEL
from .store import Store, UserLike


class UserActions(Store):
    """Mixed into ``FakeDiscord``: the test-facing verbs for human users."""

    enforce_command_permissions = True  # Discord hides commands whose default_member_permissions a user lacks

    async def invoke(self, user: UserLike, channel: Channel, command: str, /, **options: Any) -> FakeInteraction:
        """Run a slash command: ``invoke(alice, chan, "story start", title="X")``; returns at dispatch."""
        self._require_gateway()
        u = self._acting_user(user, channel)
        cmd, data = build_invocation(self, channel.guild_id, command, options)
        self._check_command_visible(u, channel, cmd.payload, command)
        return start_interaction(self, APPLICATION_COMMAND, u, channel, data, command_name=command)

    async def autocomplete(
        self,
        user: UserLike,
        channel: Channel,
        command: str,
        /,
        focused: str,
        timeout: float = 3.0,  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        **options: Any,
    ) -> list[JSON]:
        """Type into option ``focused`` (its current text in ``options``); return the bot's choices."""
        self._require_gateway()
        u = self._acting_user(user, channel)
        options.setdefault(focused, "")
        _, data = build_invocation(self, channel.guild_id, command, options, focused=focused)
        ix = start_interaction(self, AUTOCOMPLETE, u, channel, data, command_name=command)
        await ix.wait_acknowledged(timeout)
        return ix.choices or []

    async def context_menu(
        self, user: UserLike, channel: Channel, name: str, target: User | Member | Message
    ) -> FakeInteraction:
        """Run a user or message context-menu command on ``target``."""
        self._require_gateway()
        u = self._acting_user(user, channel)
        data = context_menu_data(self, channel.guild_id, name, target)
        return start_interaction(self, APPLICATION_COMMAND, u, channel, data, command_name=name)

    async def click(
        self, user: UserLike, message: Message, custom_id: str | None = None, *, label: str | None = None
    ) -> FakeInteraction:
        """Press a button on ``message``, found by ``custom_id`` or by its visible ``label``."""
        channel, u = self._component_context(user, message)
        button = find_component(message.components, custom_id=custom_id, label=label)
        if button.get("type") != BUTTON:
            raise FakeUsageError(f"{button.get('custom_id')!r} is not a button (type {button.get('type')})")
        if button.get("style") == LINK_STYLE or "custom_id" not in button:
            raise FakeUsageError(f"button {button.get('label')!r} is a link; clicking opens {button.get('url')}")
        if button.get("disabled"):
            raise FakeUsageError(f"button {button['custom_id']!r} is disabled")
        data = {"custom_id": button["custom_id"], "component_type": BUTTON, "id": button.get("id", 0)}
        return start_interaction(self, MESSAGE_COMPONENT, u, channel, data, source=message)

    async def select(
        self, user: UserLike, message: Message, custom_id: str, values: Sequence[str | int | User | Channel]
    ) -> FakeInteraction:
        """Pick ``values`` in a select menu (option values; users/roles/channels for entity selects)."""
        channel, u = self._component_context(user, message)
        menu = find_component(message.components, custom_id=custom_id, label=None)
        if menu.get("type") not in SELECT_TYPES:
            raise FakeUsageError(f"{custom_id!r} is not a select menu")
        if menu.get("disabled"):
            raise FakeUsageError(f"select {custom_id!r} is disabled")
        chosen = [str(getattr(v, "id", v)) for v in values]
        check_select_values(menu, chosen)
        data: JSON = {"custom_id": custom_id, "component_type": menu["type"], "values": chosen}
        resolved = self._resolve_select(channel, menu["type"], chosen)
        if resolved:
            data["resolved"] = resolved
        return start_interaction(self, MESSAGE_COMPONENT, u, channel, data, source=message)

    async def submit_modal(
        self, user: UserLike, shown_in: FakeInteraction, values: Mapping[str, Any]
    ) -> FakeInteraction:
        """Fill and submit the modal the bot showed in answer to ``shown_in``."""
        modal = shown_in.modal
        if modal is None:
            raise FakeUsageError(f"{shown_in!r} was not answered with a modal (response type {shown_in.response_type})")
        self._require_gateway()
        u = self.user(user)
        if u.id != shown_in.user.id:
            raise FakeUsageError("only the user the modal was shown to can submit it")
        data = {"custom_id": modal["custom_id"], "components": modal_submission(modal, values)}
        source = self.message_by_id.get(shown_in.source_message_id or 0)
        return start_interaction(self, MODAL_SUBMIT, u, shown_in.channel, data, source=source, parent=shown_in)

    async def post_message(
        self,
        user: UserLike,
        channel: Channel,
        content: str = "",
        *,
        embeds: Sequence[JSON] = (),
        files: Sequence[tuple[str, bytes]] = (),
        reply_to: Message | None = None,
    ) -> Message:
        """A user posts in ``channel`` (MESSAGE_CREATE), with Discord's default mention parsing."""
        u = self._acting_user(user, channel)
        body: JSON = {"content": content, "embeds": list(embeds)}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to.id), "channel_id": str(reply_to.channel_id)}
        uploads = [Upload(i, name, data) for i, (name, data) in enumerate(files)]
        return create_message(self, channel, u, body, uploads, msg_type=19 if reply_to else 0)

    async def edit_user_message(self, message: Message, content: str) -> Message:
        """The author edits their own message (MESSAGE_UPDATE)."""
        return edit_message(self, message, {"content": content})

    async def delete_user_message(self, message: Message) -> None:
        delete_message(self, message)

    async def add_reaction(self, user: UserLike, message: Message, emoji: str) -> None:
        """``emoji`` is a unicode emoji or ``"name:id"`` for a custom one (MESSAGE_REACTION_ADD)."""
        add_reaction(self, message, self.user(user), emoji)

    async def remove_reaction(self, user: UserLike, message: Message, emoji: str) -> None:
        remove_reaction(self, message, self.user(user), emoji)

    async def wait_for_message(
        self,
        channel: Channel,
        predicate: Any = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (the fake's API mirrors discord.py's wait_for(timeout=))
        after: Message | None = None,
    ) -> Message:
        """The first current message in ``channel`` (newer than ``after``) satisfying ``predicate``."""

        def find() -> Message | None:
            floor = after.id if after is not None else 0
            return next(
                (m for m in self.messages(channel) if m.id > floor and (predicate is None or predicate(m))), None
            )

        return await self.wait_for(find, timeout, channel=channel, what="a matching message")

    # -- helpers ----------------------------------------------------------------------------------

    def _require_gateway(self) -> None:
        """Overridden by ``FakeDiscord``: interactions need a session to be delivered to."""

    def _acting_user(self, user: UserLike, channel: Channel) -> User:
        u = self.user(user)
        guild = self.guild_of(channel)
        if guild is not None:
            if u.id not in guild.members:
                raise FakeUsageError(f"{u.name} is not a member of {guild.name}; use fake.add_member first")
            if not self.permissions(channel, u.id) & VIEW_CHANNEL:
                raise FakeUsageError(f"{u.name} cannot see #{channel.name}")
        elif channel.recipient_ids and u.id not in channel.recipient_ids:
            raise FakeUsageError(f"{u.name} is not in this DM")
        return u

    def _check_command_visible(self, user: User, channel: Channel, command: JSON, name: str) -> None:
        if not self.enforce_command_permissions or channel.guild_id is None:
            return
        perms = self.permissions(channel, user.id)
        if not perms & USE_APPLICATION_COMMANDS:
            raise FakeUsageError(f"{user.name} lacks USE_APPLICATION_COMMANDS in #{channel.name}")
        needed = command.get("default_member_permissions")
        if needed not in (None, "") and not perms & ADMINISTRATOR and perms & int(needed) != int(needed):
            raise FakeUsageError(
                f"Discord hides /{name} from {user.name}: default_member_permissions={needed}, user has {perms}; "
                "set fake.enforce_command_permissions = False to deliver it anyway"
            )

    def _component_context(self, user: UserLike, message: Message) -> tuple[Channel, User]:
        self._require_gateway()
        if message.deleted:
            raise FakeUsageError(f"{message!r} was deleted")
        channel = self.channel(message.channel_id)
        u = self._acting_user(user, channel)
        if message.visible_to is not None and message.visible_to != u.id:
            raise FakeUsageError(f"{u.name} cannot see ephemeral {message!r}")
        return channel, u

    def _resolve_select(self, channel: Channel, kind: int, chosen: list[str]) -> JSON:
        resolved: JSON = {}
        guild = self.guild_of(channel)
        for value in chosen:
            vid = int(value) if value.isdigit() else 0
            if kind in (5, 7) and vid in self.users:
                resolved.setdefault("users", {})[value] = payloads.user(self.users[vid])
                if guild is not None and vid in guild.members:
                    resolved.setdefault("members", {})[value] = payloads.member(guild.members[vid], with_user=False)
            elif kind in (6, 7) and guild is not None and vid in guild.roles:
                resolved.setdefault("roles", {})[value] = payloads.role(guild.roles[vid])
            elif kind == 8 and vid in self.channels:
                ch = payloads.channel(self, self.channels[vid])
                resolved.setdefault("channels", {})[value] = {
                    **ch,
                    "permissions": str(self.permissions(self.channels[vid], self.bot.id)),
                }
        return resolved
