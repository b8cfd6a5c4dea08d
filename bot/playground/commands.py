"""Reading the playground's slash commands: `/story add text:I pick up the key`, typed like in Discord.

An option's value runs until the next ` name:` (a name the command declares, or any lowercase word
glued to its colon, so a typo like `frm:haiku` reaches the fake Discord, which lists the real
options). Values are converted to the registered option's type: numbers, booleans, choices by name or
value, users, channels, roles, and file paths for attachments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discord import Permissions

from fakediscord import Channel, FakeDiscord, FakeUsageError, Guild, User
from fakediscord.permissions import ADMINISTRATOR

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
TYPE_NAMES = {
    STRING: "text", INTEGER: "whole number", BOOLEAN: "true/false", USER: "user", CHANNEL: "channel",
    ROLE: "role", MENTIONABLE: "user or role", NUMBER: "number", ATTACHMENT: "file path",
}  # fmt: skip
OPTION = re.compile(r"(?:(?<=\s)|^)([a-z0-9_-]+):(?!//)")
TRUE, FALSE = {"true", "yes", "y", "on", "1"}, {"false", "no", "n", "off", "0"}
TEXT_INPUT, LABEL = 4, 18


class InputError(ValueError):
    """A line the playground cannot turn into what a Discord user could send; the message says why."""


@dataclass(frozen=True)
class SlashCommand:
    path: str  # "story add"
    options: dict[str, Any] = field(default_factory=dict)


def parse_slash(line: str, fake: FakeDiscord, channel: Channel) -> SlashCommand:
    """`/poem topic:autumn rain form:haiku` -> SlashCommand("poem", {"topic": "autumn rain", "form": "haiku"})."""
    body = line.strip().removeprefix("/")
    words = list(re.finditer(r"\S+", body))
    if not words:
        raise InputError("Type a command after the slash, e.g. /poem topic:rain. `:help` lists them all.")
    guild = fake.guild_of(channel)
    schema = fake.commands.find(channel.guild_id, words[0].group().lower()).options  # FakeUsageError lists them
    path, rest_at = [words[0].group().lower()], words[0].end()
    for word in words[1:]:
        subs = [o for o in schema if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if not subs or ":" in word.group():
            break
        sub = next((o for o in subs if o["name"] == word.group().lower()), None)
        if sub is None:
            names = ", ".join(o["name"] for o in subs)
            raise InputError(f"/{' '.join(path)} has no subcommand {word.group()!r}; it has: {names}.")
        path.append(sub["name"])
        schema, rest_at = list(sub.get("options") or []), word.end()
    trail = " ".join(path)
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
        names = ", ".join(o["name"] for o in schema)
        raise InputError(f"/{trail} needs a subcommand: {names}. For example: /{trail} {schema[0]['name']}")
    raw = split_options(body[rest_at:].strip(), schema, trail)
    declared = {o["name"]: o for o in schema}
    options = {
        name: convert(declared[name], value, fake, guild, trail) if name in declared else value
        for name, value in raw.items()
    }
    return SlashCommand(trail, options)


def split_options(text: str, schema: list[dict[str, Any]], trail: str) -> dict[str, str]:
    known = {o["name"] for o in schema}
    starts = [
        m for m in OPTION.finditer(text) if m.group(1) in known or (m.end() < len(text) and not text[m.end()].isspace())
    ]
    if text and (not starts or starts[0].start() != 0):
        if not schema:
            raise InputError(f"/{trail} takes no options.")
        example = " ".join(f"{o['name']}:…" for o in schema[:2])
        raise InputError(f"Write options as name:value, e.g. /{trail} {example} (options: {', '.join(known)}).")
    values: dict[str, str] = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        name = m.group(1)
        if name in values:
            raise InputError(f"Option {name}: is given twice.")
        values[name] = text[m.end() : end].strip()
    return values


def convert(opt: dict[str, Any], raw: str, fake: FakeDiscord, guild: Guild | None, trail: str) -> Any:
    kind, name = opt["type"], opt["name"]
    if opt.get("choices"):
        return _choice(opt, raw, trail)
    try:
        if kind == INTEGER:
            return int(raw.replace(",", ""))
        if kind == NUMBER:
            return float(raw.replace(",", ""))
    except ValueError:
        raise InputError(f"/{trail} option {name}: takes a {TYPE_NAMES[kind]}, not {raw!r}.") from None
    if kind == BOOLEAN:
        if raw.lower() not in TRUE | FALSE:
            raise InputError(f"/{trail} option {name}: takes true or false, not {raw!r}.")
        return raw.lower() in TRUE
    if kind in (USER, ROLE, CHANNEL, MENTIONABLE):
        return _entity(kind, raw, fake, guild, f"/{trail} option {name}:")
    if kind == ATTACHMENT:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise InputError(f"/{trail} option {name}: takes the path of a file to upload; {raw!r} is not a file.")
        return (path.name, path.read_bytes())
    return raw


def _choice(opt: dict[str, Any], raw: str, trail: str) -> Any:
    choices = opt["choices"]
    folded = raw.casefold()
    for test in (
        lambda c: str(c["value"]) == raw,
        lambda c: folded in (str(c["value"]).casefold(), str(c["name"]).casefold()),
    ):
        found = [c for c in choices if test(c)]
        if found:
            return found[0]["value"]
    prefixed = [c for c in choices if any(str(c[k]).casefold().startswith(folded) for k in ("name", "value"))]
    if raw and len(prefixed) == 1:
        return prefixed[0]["value"]
    listed = "; ".join(
        f"{c['value']} ({c['name']})" if str(c["value"]).casefold() != c["name"].casefold() else str(c["value"])
        for c in choices
    )
    raise InputError(f"/{trail} option {opt['name']}: must be one of: {listed}. Got {raw!r}.")


def _entity(kind: int, raw: str, fake: FakeDiscord, guild: Guild | None, where: str) -> Any:
    name = raw.lstrip("@#").casefold()
    if guild is None:
        raise InputError(f"{where} users, roles and channels only exist in a server.")
    if kind == CHANNEL:
        found = [c for c in guild.channels.values() if c.name.casefold() == name and not c.deleted]
        if not found:
            listed = ", ".join("#" + c.name for c in guild.channels.values())
            raise InputError(f"{where} no channel #{name}; there are {listed}.")
        return found[0]
    if kind in (ROLE, MENTIONABLE):
        role = next((r for r in guild.roles.values() if r.name.lstrip("@").casefold() == name), None)
        if role is not None:
            return role
        if kind == ROLE:
            raise InputError(f"{where} no role @{name}; roles: {', '.join(r.name for r in guild.roles.values())}.")
    member = next((m for m in guild.members.values() if name in (m.user.name.casefold(), str(m.user.id))), None)
    if member is None:
        names = ", ".join(m.user.name for m in guild.members.values())
        raise InputError(f"{where} nobody called {raw!r} is in the server; members: {names}.")
    return member.user


# Discord's names for the permissions a command may require (discord.py's attribute names otherwise).
PERMISSION_NAMES = {
    "administrator": "Administrator", "manage_guild": "Manage Server", "manage_channels": "Manage Channels",
    "manage_messages": "Manage Messages", "manage_roles": "Manage Roles", "moderate_members": "Timeout Members",
}  # fmt: skip


def moderators_only(fake: FakeDiscord, channel: Channel, user: User, path: str) -> str | None:
    """Why Discord would not show `user` the command `path` (its default_member_permissions), or None."""
    if channel.guild_id is None:
        return None
    command = fake.commands.find(channel.guild_id, path.split()[0])
    needed = int(command.payload.get("default_member_permissions") or 0)
    have = fake.permissions(channel, user.id)
    if not needed or have & ADMINISTRATOR or have & needed == needed:
        return None
    missing = [PERMISSION_NAMES.get(name, name.replace("_", " ").title()) for name, on in Permissions(needed) if on]
    return (
        f"/{path} is for moderators: Discord shows it only to members with the {' and '.join(missing)} "
        f"permission, which {user.name} does not have. `:as you` acts as the server's owner, who has it."
    )


# --- forms and buttons ------------------------------------------------------------------------------
def form_fields(modal: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(custom_id, label, component) of each text input in a modal, in order."""
    fields = []
    for comp in modal.get("components") or []:
        if comp.get("type") == LABEL and (comp.get("component") or {}).get("type") == TEXT_INPUT:
            fields.append((comp["component"]["custom_id"], comp.get("label") or "", comp["component"]))
        for child in comp.get("components") or []:
            if child.get("type") == TEXT_INPUT:
                fields.append((child["custom_id"], child.get("label") or "", child))
    return fields


def form_values(fields: list[tuple[str, str, dict[str, Any]]], arg: str) -> dict[str, str]:
    """`1=I run 2=to the door` or, for a one-field form, the whole text."""
    keys = list(re.finditer(r"(?:(?<=\s)|^)([\w-]+)=", arg))
    if len(fields) == 1 and (not keys or keys[0].start() != 0):
        return {fields[0][0]: arg}
    if not keys or keys[0].start() != 0:
        raise InputError("Write the fields as 1=… 2=… (their numbers in the form).")
    values = {}
    for i, key in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(arg)
        name = key.group(1)
        numbered = list(enumerate(fields, start=1))
        field = next(
            (f for n, f in numbered if name in (str(n), f[0]) or f[1].casefold().startswith(name.casefold())), None
        )
        if field is None:
            listed = ", ".join(f"{n}={f[1]}" for n, f in numbered)
            raise InputError(f"The form has no field {name!r}; it has {listed}.")
        values[field[0]] = arg[key.end() : end].strip()
    return values


def label_matches(button: dict[str, Any], text: str) -> bool:
    wanted = text.casefold()
    label = (button.get("label") or "").casefold()
    return bool(label) and (label == wanted or _button_label(button).casefold() == wanted or wanted in label)


def _button_label(button: dict[str, Any]) -> str:
    emoji = (button.get("emoji") or {}).get("name") or ""
    return " ".join(p for p in (emoji, button.get("label") or "") if p)


# --- help and completion ----------------------------------------------------------------------------
def command_list(fake: FakeDiscord, channel: Channel) -> list[str]:
    """One line per command, subcommands folded in: `/story start|join|add…  Tell a story together…`."""
    lines = []
    for cmd in _visible(fake, channel):
        subs = [o["name"] for o in cmd.options if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        name = f"/{cmd.name} " + "|".join(subs) if subs else f"/{cmd.name}"
        lines.append(f"{name:<28} {cmd.payload.get('description', '')}")
    return lines


def command_help(fake: FakeDiscord, channel: Channel, text: str) -> list[str]:
    """`/story add` -> its description and options, from what the bot registered."""
    words = text.strip().removeprefix("/").split()
    try:
        cmd = fake.commands.find(channel.guild_id, words[0].lower())
    except (FakeUsageError, IndexError):
        raise InputError(f"No command {text.strip()!r}. `:help` lists them.") from None
    node: dict[str, Any] = cmd.payload
    for word in words[1:]:
        node = next((o for o in node.get("options") or [] if o["name"] == word.lower()), node)
    lines = [f"/{' '.join(words).lower()} — {node.get('description', '')}"]
    for opt in node.get("options") or []:
        if opt["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
            lines.append(f"  /{cmd.name} {opt['name']:<16} {opt.get('description', '')}")
            continue
        need = "required" if opt.get("required") else "optional"
        kind = TYPE_NAMES.get(opt["type"], "?")
        lines.append(f"  {opt['name']}: ({kind}, {need}) {opt.get('description', '')}")
        if opt.get("choices"):
            lines.append("      choices: " + "; ".join(str(c["value"]) for c in opt["choices"]))
    return lines


def completions(fake: FakeDiscord, channel: Channel, line: str, verbs: list[str]) -> list[str]:
    """Candidates for the word being typed at the end of `line` (the prompt's Tab completion)."""
    words = line.split(" ")
    current = words[-1]
    if len(words) == 1:
        pool = [f"/{c.name}" for c in _visible(fake, channel)] + verbs
        return [w + " " for w in pool if w.startswith(current)]
    if not line.startswith("/"):
        return []
    try:
        schema = fake.commands.find(channel.guild_id, words[0][1:].lower()).options
    except FakeUsageError:
        return []
    for word in words[1:-1]:
        schema = next((list(o.get("options") or []) for o in schema if o["name"] == word), schema)
    subs = [o["name"] + " " for o in schema if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    pool = subs or [o["name"] + ":" for o in schema]
    return [w for w in pool if w.startswith(current)]


def _visible(fake: FakeDiscord, channel: Channel) -> list[Any]:
    scopes = [fake.commands.registered(channel.guild_id), fake.commands.registered(None)]
    seen: dict[str, Any] = {}
    for scope in scopes:
        for cmd in scope:
            if cmd.type == 1:
                seen.setdefault(cmd.name, cmd)
    return sorted(seen.values(), key=lambda c: c.name)
