"""Registered application commands, and the ``data`` a Discord client sends when a user invokes one.

Registration keeps Discord's behaviour that matters to a bot: a bulk overwrite replaces the whole
scope but keeps the ids of commands that survive (matched by name and type). Invocation checks what
Discord's client would never let a user send (unknown command or option, missing required option,
a value outside choices/min/max) and raises ``FakeUsageError`` naming what does exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import payloads
from .errors import APIError, FakeUsageError, field_error, invalid_form
from .models import JSON, AppCommand, Attachment, Channel, Guild, Member, Message, Role, User

if TYPE_CHECKING:
    from .store import Store

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


class CommandRegistry:
    """Commands per scope: ``None`` is global, an int is a guild id."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.scopes: dict[int | None, list[AppCommand]] = {}
        self.synced: set[int | None] = set()  # scopes that saw a bulk overwrite or create

    def registered(self, guild: Guild | int | None = None) -> list[AppCommand]:
        """The commands registered globally (``None``) or for ``guild``."""
        guild_id = guild.id if isinstance(guild, Guild) else guild
        return list(self.scopes.get(guild_id, []))

    def get(self, guild_id: int | None, command_id: int) -> AppCommand:
        for cmd in self.scopes.get(guild_id, []):
            if cmd.id == command_id:
                return cmd
        raise APIError(404, 10063, "Unknown application command")

    def bulk_overwrite(self, guild_id: int | None, items: list[JSON]) -> list[AppCommand]:
        if len(items) > 100:
            raise invalid_form({"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 100 or fewer."}]})
        seen: set[tuple[str, int]] = set()
        old = {(c.name, c.type): c for c in self.scopes.get(guild_id, [])}
        new: list[AppCommand] = []
        for i, item in enumerate(items):
            validate_command(item, str(i))
            key = (str(item["name"]), int(item.get("type", 1)))
            if key in seen:
                raise invalid_form(
                    {str(i): field_error("APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate name {key[0]!r}")}
                )
            seen.add(key)
            prev = old.get(key)
            cid = prev.id if prev is not None else self.store.ids.next()
            new.append(AppCommand(cid, self.store.application_id, guild_id, dict(item), self.store.ids.next()))
        self.scopes[guild_id] = new
        self.synced.add(guild_id)
        self.store.changed()
        return new

    def upsert(self, guild_id: int | None, item: JSON) -> AppCommand:
        validate_command(item, "")
        others = [c for c in self.scopes.get(guild_id, []) if (c.name, c.type) != (item["name"], item.get("type", 1))]
        prev = next((c for c in self.scopes.get(guild_id, []) if c not in others), None)
        cmd = AppCommand(
            prev.id if prev else self.store.ids.next(),
            self.store.application_id,
            guild_id,
            dict(item),
            self.store.ids.next(),
        )
        self.scopes[guild_id] = [*others, cmd]
        self.synced.add(guild_id)
        self.store.changed()
        return cmd

    def edit(self, guild_id: int | None, command_id: int, changes: JSON) -> AppCommand:
        cmd = self.get(guild_id, command_id)
        cmd.payload.update(changes)
        cmd.version = self.store.ids.next()
        self.store.changed()
        return cmd

    def delete(self, guild_id: int | None, command_id: int) -> None:
        cmd = self.get(guild_id, command_id)
        self.scopes[guild_id].remove(cmd)
        self.store.changed()

    def find(self, guild_id: int | None, name: str, kind: int = CHAT_INPUT) -> AppCommand:
        """The command a user in ``guild_id`` would see: guild commands first, then global ones."""
        for scope in ([guild_id] if guild_id else []) + [None]:
            for cmd in self.scopes.get(scope, []):
                if cmd.name == name and cmd.type == kind:
                    return cmd
        visible = sorted({c.name for s in {guild_id, None} for c in self.scopes.get(s, []) if c.type == kind})
        raise FakeUsageError(f"no command {name!r} registered for this guild or globally; registered: {visible}")


def validate_command(item: JSON, path: str) -> None:
    """The registration checks most likely to bite: names, descriptions, option order and counts."""
    kind = int(item.get("type", 1))
    name = str(item.get("name", ""))
    prefix = f"{path}." if path else ""
    # Slash command names are one lower-case word; user and message commands (context menus) may be
    # mixed case with spaces and punctuation ("Rewrite in a style…"), 1-32 characters.
    menu_name_ok = kind != CHAT_INPUT and 1 <= len(name) <= 32 and name.strip() == name and bool(name)
    if not (menu_name_ok or NAME_RE.match(name)) or (kind == CHAT_INPUT and name != name.lower()):
        raise invalid_form({f"{prefix}name": field_error("APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {name!r}")})
    if kind == CHAT_INPUT:
        _validate_options(item.get("options") or [], f"{prefix}options", item)


def _validate_options(options: list[JSON], path: str, parent: JSON) -> None:
    if not 1 <= len(str(parent.get("description", ""))) <= 100:
        raise invalid_form({path: field_error("BASE_TYPE_BAD_LENGTH", "Description must be 1-100 characters.")})
    if len(options) > 25:
        raise invalid_form({path: field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")})
    optional_seen = False
    for i, opt in enumerate(options):
        if opt.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
            _validate_options(opt.get("options") or [], f"{path}.{i}.options", opt)
            continue
        if opt.get("required"):
            if optional_seen:
                raise invalid_form(
                    {
                        f"{path}.{i}": field_error(
                            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                            "Required options must be placed before non-required options",
                        )
                    }
                )
        else:
            optional_seen = True
        if len(opt.get("choices") or []) > 25:
            raise invalid_form({f"{path}.{i}.choices": field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer.")})


def build_invocation(
    store: Store,
    guild_id: int | None,
    path: str,
    values: Mapping[str, Any],
    *,
    focused: str | None = None,
) -> tuple[AppCommand, JSON]:
    """``("story start", {"title": "X"})`` -> the registered command and the interaction ``data``."""
    words = path.split()
    if not words:
        raise FakeUsageError("empty command path")
    cmd = store.commands.find(guild_id, words[0])
    data: JSON = {"id": str(cmd.id), "name": cmd.name, "type": CHAT_INPUT}
    if cmd.guild_id is not None:
        data["guild_id"] = str(cmd.guild_id)
    schema, holder, trail = cmd.options, data, words[0]
    for word in words[1:]:
        sub = next((o for o in schema if o["name"] == word and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)), None)
        if sub is None:
            subs = [o["name"] for o in schema if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
            raise FakeUsageError(f"/{trail} has no subcommand {word!r}; it has {subs}")
        node: JSON = {"name": word, "type": sub["type"], "options": []}
        holder.setdefault("options", []).append(node)
        schema, holder, trail = list(sub.get("options") or []), node, f"{trail} {word}"
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
        subs = [o["name"] for o in schema if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        raise FakeUsageError(f"/{trail} cannot be invoked by itself; choose one of {subs}")
    resolved: JSON = {}
    holder["options"] = _leaf_options(store, guild_id, trail, schema, values, resolved, focused)
    if resolved:
        data["resolved"] = resolved
    return cmd, data


def _leaf_options(
    store: Store,
    guild_id: int | None,
    trail: str,
    schema: list[JSON],
    values: Mapping[str, Any],
    resolved: JSON,
    focused: str | None,
) -> list[JSON]:
    declared = {o["name"]: o for o in schema}
    unknown = set(values) - set(declared)
    if unknown:
        raise FakeUsageError(f"/{trail} has no options {sorted(unknown)}; it has {list(declared)}")
    if focused is not None and focused not in declared:
        raise FakeUsageError(f"/{trail} has no option {focused!r} to autocomplete")
    out: list[JSON] = []
    for name, opt in declared.items():
        if name not in values:
            if opt.get("required") and focused is None:
                raise FakeUsageError(f"/{trail} needs option {name!r} (required); got {sorted(values)}")
            continue
        if name == focused:
            out.append({"name": name, "type": opt["type"], "value": str(values[name]), "focused": True})
            continue
        value = _convert(store, guild_id, trail, opt, values[name], resolved)
        out.append({"name": name, "type": opt["type"], "value": value})
    return out


def _convert(store: Store, guild_id: int | None, trail: str, opt: JSON, value: Any, resolved: JSON) -> Any:
    kind, where = opt["type"], f"/{trail} option {opt['name']!r}"
    if kind in (STRING, INTEGER, NUMBER, BOOLEAN):
        ok = {
            STRING: isinstance(value, str),
            INTEGER: isinstance(value, int) and not isinstance(value, bool),
            NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
            BOOLEAN: isinstance(value, bool),
        }[kind]
        if not ok:
            names = {STRING: "a string", INTEGER: "an integer", NUMBER: "a number", BOOLEAN: "a boolean"}
            raise FakeUsageError(f"{where} takes {names[kind]}, got {value!r}")
        _check_bounds(where, opt, value)
        return value
    if kind == ATTACHMENT:
        return _resolve_attachment(store, value, resolved)
    return _resolve_entity(store, guild_id, where, opt, value, resolved)


def _check_bounds(where: str, opt: JSON, value: Any) -> None:
    choices = [c["value"] for c in opt.get("choices") or []]
    if choices and value not in choices:
        raise FakeUsageError(f"{where} must be one of {choices}, got {value!r}")
    if isinstance(value, str):
        lo, hi = opt.get("min_length", 0), opt.get("max_length", 6000)
        if not lo <= len(value) <= hi:
            raise FakeUsageError(f"{where} must be {lo}..{hi} characters, got {len(value)}")
    elif not isinstance(value, bool):
        if ("min_value" in opt and value < opt["min_value"]) or ("max_value" in opt and value > opt["max_value"]):
            raise FakeUsageError(f"{where} must be within {opt.get('min_value')}..{opt.get('max_value')}, got {value}")


def _resolve_entity(store: Store, guild_id: int | None, where: str, opt: JSON, value: Any, resolved: JSON) -> str:
    kind = opt["type"]
    guild = store.guilds.get(guild_id) if guild_id else None
    if isinstance(value, Role) or (kind == ROLE and isinstance(value, int)):
        if kind not in (ROLE, MENTIONABLE) or guild is None:
            raise FakeUsageError(f"{where} does not take a role")
        role = value if isinstance(value, Role) else guild.roles[value]
        resolved.setdefault("roles", {})[str(role.id)] = payloads.role(role)
        return str(role.id)
    if isinstance(value, Channel) or (kind == CHANNEL and isinstance(value, int)):
        ch = value if isinstance(value, Channel) else store.channel(value)
        if kind != CHANNEL:
            raise FakeUsageError(f"{where} does not take a channel")
        types = opt.get("channel_types")
        if types and int(ch.type) not in types:
            raise FakeUsageError(f"{where} takes channel types {types}, got {ch.type.name}")
        data = payloads.channel(store, ch)
        data["permissions"] = str(store.permissions(ch, store.bot.id))
        resolved.setdefault("channels", {})[str(ch.id)] = data
        return str(ch.id)
    if isinstance(value, User | Member | int) and kind in (USER, MENTIONABLE):
        user = store.user(value)
        resolved.setdefault("users", {})[str(user.id)] = payloads.user(user)
        if guild is not None and user.id in guild.members:
            member = payloads.member(guild.members[user.id], with_user=False)
            resolved.setdefault("members", {})[str(user.id)] = member
        return str(user.id)
    raise FakeUsageError(f"{where} cannot take {value!r}")


def _resolve_attachment(store: Store, value: Any, resolved: JSON) -> str:
    if isinstance(value, tuple):
        filename, data = value
        value = Attachment(store.ids.next(), filename, data, "application/octet-stream")
        value.url = f"{store.base_url}/attachments/0/{value.id}/{filename}"
    if not isinstance(value, Attachment):
        raise FakeUsageError("attachment options take (filename, bytes) or an Attachment")
    store.attachments[value.id] = value
    resolved.setdefault("attachments", {})[str(value.id)] = payloads.attachment(value)
    return str(value.id)


def context_menu_data(store: Store, guild_id: int | None, name: str, target: User | Member | Message) -> JSON:
    """``data`` for a user- or message-context-menu command invoked on ``target``."""
    kind = MESSAGE_COMMAND if isinstance(target, Message) else USER_COMMAND
    cmd = store.commands.find(guild_id, name, kind)
    data: JSON = {"id": str(cmd.id), "name": cmd.name, "type": kind, "target_id": str(target.id)}
    if cmd.guild_id is not None:
        data["guild_id"] = str(cmd.guild_id)
    if isinstance(target, Message):
        data["resolved"] = {"messages": {str(target.id): payloads.message(store, target)}}
    else:
        resolved: JSON = {}
        _resolve_entity(store, guild_id, f"context menu {name!r}", {"type": USER, "name": "target"}, target, resolved)
        data["resolved"] = resolved
    return data
