"""Typed settings: each knows its default, how to read a moderator's text, what is allowed, and how it shows.

A feature plugs in by declaring `Setting`s in `bot/config/catalog.py`; the registry, `/config`, `/help`
and the README table all read the same declarations.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.errors import UserFacingError
from bot.text import clean_input

ROLE_MENTION = re.compile(r"^<@&(\d{15,21})>$|^(\d{15,21})$")
TRUE = frozenset({"true", "on", "yes", "1", "enabled"})
FALSE = frozenset({"false", "off", "no", "0", "disabled"})
NONE_WORDS = frozenset({"", "none", "off", "everyone", "default"})


class InvalidValue(UserFacingError):
    """A moderator's value is not allowed for this setting; the message names what is."""


@dataclass(frozen=True)
class Setting:
    """One setting, declared once. Subclasses give it a type; `default` is already of that type."""

    key: str
    feature: str
    doc: str
    default: Any
    channel: bool = False  # whether a channel (and its threads) may override the server's value
    owner_only: bool = False  # only Manage Server may change it (e.g. who moderates)

    kind: str = field(default="text", init=False)

    def parse(self, text: str) -> Any:
        """A moderator's typed text as this setting's value, or InvalidValue naming what is allowed."""
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        """A typed value, validated (what a stored value is read back through, too)."""
        return value

    def show(self, value: Any) -> str:
        return "—" if value in (None, "", []) else str(value)

    def dump(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def load(self, stored: str) -> Any:
        return self.check(json.loads(stored))

    def choices(self) -> list[str]:
        """The values to offer in autocomplete (empty: free text)."""
        return []

    def allowed(self) -> str:
        """What a valid value looks like, for error messages and /help."""
        return "text"


@dataclass(frozen=True)
class BoolSetting(Setting):
    kind: str = field(default="bool", init=False)

    def parse(self, text: str) -> bool:
        word = text.strip().casefold()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise InvalidValue(f"`{self.key}` is on or off: answer `true` or `false`.")

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise InvalidValue(f"`{self.key}` is on or off: answer `true` or `false`.")
        return value

    def show(self, value: Any) -> str:
        return "on" if value else "off"

    def choices(self) -> list[str]:
        return ["true", "false"]

    def allowed(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class NumberSetting(Setting):
    low: float = 0
    high: float = 0
    unit: str = ""
    integer: bool = True
    kind: str = field(default="number", init=False)

    def parse(self, text: str) -> int | float:
        word = text.strip().casefold().removesuffix(self.unit.strip()).strip() if self.unit else text.strip()
        try:
            value: int | float = int(word) if self.integer else float(word)
        except ValueError:
            raise InvalidValue(f"`{self.key}` must be a {self._what()} {self.allowed()}.") from None
        return self.check(value)

    def check(self, value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise InvalidValue(f"`{self.key}` must be a {self._what()} {self.allowed()}.")
        if self.integer and value != int(value):
            raise InvalidValue(f"`{self.key}` must be a whole number {self.allowed()}.")
        if not self.low <= value <= self.high:
            raise InvalidValue(f"`{self.key}` must be {self.allowed()}; {_num(value)} is outside that range.")
        return int(value) if self.integer else float(value)

    def show(self, value: Any) -> str:
        return f"{_num(value)}{self.unit}"

    def allowed(self) -> str:
        return f"from {_num(self.low)} to {_num(self.high)}{self.unit}"

    def _what(self) -> str:
        return "whole number" if self.integer else "number"


@dataclass(frozen=True)
class ChoiceSetting(Setting):
    options: tuple[str, ...] = ()
    kind: str = field(default="choice", init=False)

    def parse(self, text: str) -> str:
        return self.check(text.strip().casefold())

    def check(self, value: Any) -> str:
        if value not in self.options:
            raise InvalidValue(f"`{self.key}` must be one of: {self.allowed()}.")
        return str(value)

    def choices(self) -> list[str]:
        return list(self.options)

    def allowed(self) -> str:
        return ", ".join(self.options)


@dataclass(frozen=True)
class TextSetting(Setting):
    max_length: int = 100
    kind: str = field(default="text", init=False)

    def parse(self, text: str) -> str:
        if text.strip().casefold() in ("none", "-"):
            return ""
        cleaned = clean_input(text, field=self.key, max_length=self.max_length, min_length=0, multiline=False)
        return self.check(cleaned)

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or len(value) > self.max_length:
            raise InvalidValue(f"`{self.key}` must be {self.allowed()}.")
        return value

    def allowed(self) -> str:
        return f"text of up to {self.max_length} characters (`none` clears it)"


@dataclass(frozen=True)
class ListSetting(Setting):
    """Words or phrases, separated by commas or new lines."""

    max_items: int = 200
    item_length: int = 60
    kind: str = field(default="list", init=False)

    def parse(self, text: str) -> list[str]:
        if text.strip().casefold() in ("none", "-", ""):
            return []
        items = [
            clean_input(part, field=self.key, max_length=self.item_length, min_length=1, multiline=False)
            for part in re.split(r"[,\n]", text)
            if part.strip()
        ]
        return self.check(list(dict.fromkeys(items)))

    def check(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InvalidValue(f"`{self.key}` must be {self.allowed()}.")
        if len(value) > self.max_items or any(len(v) > self.item_length for v in value):
            raise InvalidValue(f"`{self.key}` must be {self.allowed()}.")
        return list(value)

    def show(self, value: Any) -> str:
        return f"{len(value)} entries" if value else "—"

    def allowed(self) -> str:
        return f"up to {self.max_items} words or phrases of up to {self.item_length} characters, separated by commas"


@dataclass(frozen=True)
class RoleSetting(Setting):
    """A role id, or None (everyone / nobody, as the setting's doc says)."""

    kind: str = field(default="role", init=False)

    def parse(self, text: str) -> int | None:
        word = text.strip()
        if word.casefold() in NONE_WORDS:
            return None
        match = ROLE_MENTION.match(word)
        if not match:
            raise InvalidValue(f"`{self.key}` must be {self.allowed()}.")
        return int(match.group(1) or match.group(2))

    def check(self, value: Any) -> int | None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidValue(f"`{self.key}` must be {self.allowed()}.")
        return value

    def show(self, value: Any) -> str:
        return f"<@&{value}>" if value else "—"

    def allowed(self) -> str:
        return "a role (pick it in the `role` option) or `none`"


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
