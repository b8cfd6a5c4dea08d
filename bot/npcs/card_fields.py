"""Checks for the fields of an untrusted character card, each failing with a CardError that names the field.

The limits here bound what one card can make the bot hold in memory or store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.text import InputProblem, echo

MAX_JSON_BYTES = 1_000_000
MAX_DEPTH = 32  # objects/arrays inside each other; real cards use fewer than 8
FIELD_LIMIT = 50_000  # characters in one text field
NAME_LIMIT = 80  # Discord's limit for a webhook's name
MAX_LIST = 100  # alternate greetings, tags, sources, assets
MAX_BOOK_ENTRIES = 500
MAX_ENTRY_KEYS = 100
KEY_LIMIT = 500

Json = dict[str, Any]


class CardError(InputProblem):
    """The file is not a card this bot can import; the message says why, in words a user can act on."""


def kind(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def short(error: Exception) -> str:
    return str(error)[:120]


def text_value(value: object) -> str:
    return echo(str(value)[:60]) if isinstance(value, str) else kind(value)


def text(obj: Mapping[str, Any], name: str, where: str = "") -> str:
    """A text field; null counts as empty (common in real cards), anything else that is not text is refused."""
    value = obj.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CardError(f"The card's {where}`{name}` should be text, not {kind(value)}.")
    if len(value) > FIELD_LIMIT:
        raise CardError(f"The card's {where}`{name}` is {len(value):,} characters long; the limit is {FIELD_LIMIT:,}.")
    return value


def optional_text(obj: Mapping[str, Any], name: str, where: str) -> str | None:
    return text(obj, name, where) if obj.get(name) is not None else None


def optional_int(obj: Mapping[str, Any], name: str, where: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**53:
        raise CardError(f"The card's {where}`{name}` should be a whole number, not {kind(value)}.")
    return value


def id_or_position(obj: Mapping[str, Any], name: str, where: str) -> int | str | None:
    value = obj.get(name)
    if isinstance(value, str):
        if len(value) > KEY_LIMIT:
            raise CardError(f"The card's {where}`{name}` is longer than {KEY_LIMIT} characters.")
        return value
    return optional_int(obj, name, where)


def strings(
    obj: Mapping[str, Any], name: str, where: str = "", limit: int = MAX_LIST, item_limit: int = FIELD_LIMIT
) -> tuple[str, ...]:
    value = obj.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CardError(f"The card's {where}`{name}` should be a list of texts.")
    if len(value) > limit:
        raise CardError(f"The card's {where}`{name}` has {len(value):,} items; the limit is {limit}.")
    if any(len(v) > item_limit for v in value):
        raise CardError(f"An item of the card's {where}`{name}` is longer than {item_limit:,} characters.")
    return tuple(value)


def mapping(obj: Mapping[str, Any], name: str, where: str = "") -> Json:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CardError(f"The card's {where}`{name}` should be an object, not {kind(value)}.")
    return value
