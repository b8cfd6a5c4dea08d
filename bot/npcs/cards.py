"""SillyTavern character cards in and out: V1 (flat), V2 (`chara_card_v2`) and V3 (`chara_card_v3`) JSON.

Pure and Discord-free. `parse` turns untrusted JSON bytes into a `Card` or raises `CardError` with what is
wrong; `to_dict`/`dump_json` write a card back. Every field this module does not know, at the top level,
under `data`, in the character book and in its entries, is kept in an `extra` dict and written back
unchanged, and `extensions` are kept whole, so a round trip loses nothing. PNG cards are in `card_png`.

Limits (a card is a file anyone may upload): the JSON is at most `MAX_JSON_BYTES`, nested at most
`MAX_DEPTH` deep, text fields at most `FIELD_LIMIT` characters, and lists are bounded. A card that
breaks one is refused whole; nothing is half-imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.npcs.card_fields import (
    FIELD_LIMIT,
    KEY_LIMIT,
    MAX_BOOK_ENTRIES,
    MAX_DEPTH,
    MAX_ENTRY_KEYS,
    MAX_JSON_BYTES,
    MAX_LIST,
    NAME_LIMIT,
    CardError,
    Json,
    id_or_position,
    is_number,
    kind,
    mapping,
    optional_int,
    optional_text,
    short,
    strings,
    text,
    text_value,
)
from bot.text import InputProblem, clean_input, echo

V1 = "v1"
V2 = "chara_card_v2"
V3 = "chara_card_v3"
SPEC_VERSIONS = {V2: "2.0", V3: "3.0"}

# The V1 fields that V2/V3 writers also copy to the top level; the copies in `data` are the real ones.
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
_TEXT_FIELDS = (*V1_FIELDS[1:], "system_prompt", "post_history_instructions", "creator", "creator_notes",
                "character_version")  # fmt: skip
_DATA_KNOWN = {*V1_FIELDS, *_TEXT_FIELDS, "alternate_greetings", "character_book", "tags", "extensions"}
_ENTRY_TEXT = ("name", "comment")
_ENTRY_FLAGS = ("constant", "selective", "enabled", "case_sensitive")
_ENTRY_INTS = ("insertion_order", "priority")
# `id` is a number in V2 and a number or a string in V3; `position` is "before_char"/"after_char" in the
# specs, but some tools write SillyTavern's numbers: both are kept as they come.
_ENTRY_KNOWN = {"keys", "secondary_keys", "content", "extensions", "id", "position", *_ENTRY_TEXT, *_ENTRY_FLAGS,
                *_ENTRY_INTS}  # fmt: skip
_BOOK_TEXT = ("name", "description")
_BOOK_INTS = ("scan_depth", "token_budget")
_BOOK_KNOWN = {"entries", "extensions", "recursive_scanning", *_BOOK_TEXT, *_BOOK_INTS}


@dataclass(frozen=True)
class BookEntry:
    keys: tuple[str, ...]
    content: str
    secondary_keys: tuple[str, ...] = ()
    constant: bool = False
    selective: bool = False
    insertion_order: int = 100
    enabled: bool = True
    # Optional in the spec: None means "absent", and absent stays absent on export.
    name: str | None = None
    comment: str | None = None
    position: str | int | None = None  # "before_char" | "after_char"
    id: int | str | None = None
    priority: int | None = None
    case_sensitive: bool | None = None
    extensions: Json = field(default_factory=dict)
    extra: Json = field(default_factory=dict)  # e.g. V3's use_regex, and anything newer


@dataclass(frozen=True)
class CharacterBook:
    entries: tuple[BookEntry, ...]
    name: str | None = None
    description: str | None = None
    scan_depth: int | None = None
    token_budget: int | None = None
    recursive_scanning: bool | None = None
    extensions: Json = field(default_factory=dict)
    extra: Json = field(default_factory=dict)


@dataclass(frozen=True)
class Card:
    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: tuple[str, ...] = ()
    character_book: CharacterBook | None = None
    tags: tuple[str, ...] = ()
    creator: str = ""
    creator_notes: str = ""
    character_version: str = ""
    extensions: Json = field(default_factory=dict)
    extra: Json = field(default_factory=dict)  # unknown `data` fields, V3's nickname/assets/... among them
    top_extra: Json = field(default_factory=dict)  # unknown top-level fields
    spec: str = V3  # the spec it came in: exported the same way unless asked otherwise
    spec_version: str = "3.0"


# ---------------------------------------------------------------- reading


def parse(raw: bytes) -> Card:
    """A card from JSON bytes (V1, V2 or V3). Raises CardError, never anything else, for a bad file."""
    return parse_obj(load_json(raw))


def load_json(raw: bytes) -> Json:
    if len(raw) > MAX_JSON_BYTES:
        raise CardError(f"The card is {len(raw):,} bytes of JSON; the limit is {MAX_JSON_BYTES:,}.")
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CardError("The card is not UTF-8 text, so it is neither a JSON nor a PNG character card.") from None
    try:
        # CPython's decoder counts nesting against the recursion limit in C, so "[[[[…" fails here,
        # bounded, before any deep structure is built; the walk below then holds cards to MAX_DEPTH.
        obj = json.loads(decoded)
    except RecursionError:
        raise CardError(f"The card's JSON is nested too deeply (the limit is {MAX_DEPTH} levels).") from None
    except ValueError as error:
        raise CardError(f"The card is not valid JSON ({short(error)}).") from None
    check_depth(obj)
    if not isinstance(obj, dict):
        raise CardError("The card's JSON should be an object with the character's fields.")
    return obj


def check_depth(obj: object, limit: int = MAX_DEPTH) -> None:
    """Iterative, so a hostile structure cannot exhaust Python's own stack while being checked."""
    stack: list[tuple[object, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                raise CardError(f"The card's JSON is nested too deeply (the limit is {limit} levels).")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def parse_obj(obj: Json) -> Card:
    spec = obj.get("spec")
    if spec is None:
        if "data" in obj or not isinstance(obj.get("name"), str):
            raise CardError("This JSON is not a character card: it has no `spec` and no character `name`.")
        flat = {k: obj[k] for k in V1_FIELDS if k in obj}
        return _card(flat, {k: v for k, v in obj.items() if k not in V1_FIELDS}, V1, "1.0")
    if not isinstance(spec, str) or spec not in SPEC_VERSIONS:
        raise CardError(
            f"Unsupported card spec “{text_value(spec)}”: this bot reads chara_card_v2 and chara_card_v3 (and V1)."
        )
    data = obj.get("data")
    if not isinstance(data, dict):
        raise CardError(f"The card says it is {spec} but has no `data` object with the character's fields.")
    version = obj.get("spec_version", SPEC_VERSIONS[spec])
    if not isinstance(version, str | int | float) or isinstance(version, bool):
        raise CardError("The card's `spec_version` should be a version like “2.0”.")
    top = {k: v for k, v in obj.items() if k not in ("spec", "spec_version", "data", *V1_FIELDS)}
    return _card(data, top, spec, str(version))


def _card(data: Json, top_extra: Json, spec: str, version: str) -> Card:
    extensions = mapping(data, "extensions")
    extra = {k: v for k, v in data.items() if k not in _DATA_KNOWN}
    _check_v3_fields(extra)
    return Card(
        name=card_name(data.get("name")),
        **{name: text(data, name) for name in _TEXT_FIELDS},
        alternate_greetings=strings(data, "alternate_greetings"),
        character_book=parse_book(data.get("character_book")),
        tags=strings(data, "tags"),
        extensions=extensions,
        extra=extra,
        top_extra=top_extra,
        spec=spec,
        spec_version=version,
    )


def card_name(value: object) -> str:
    """The character's name made safe to show: no bidi or control characters, no mention that could ping."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CardError("The card has no character name (`name` is missing or empty).")
    if not isinstance(value, str):
        raise CardError(f"The card's `name` should be text, not {kind(value)}.")
    if len(value) > FIELD_LIMIT:
        raise CardError(f"The card's `name` is {len(value):,} characters long; the limit is {NAME_LIMIT}.")
    try:
        name = clean_input(value, field="character name", max_length=NAME_LIMIT, multiline=False)
    except InputProblem as problem:
        raise CardError(str(problem)) from None
    return echo(name)


def _check_v3_fields(extra: Json) -> None:
    """V3's own fields stay in `extra` (the NPC model has no place for them) but must have the right shape."""
    for name in ("nickname",):
        text(extra, name)
    for name in ("source", "group_only_greetings"):
        strings(extra, name)
    notes = mapping(extra, "creator_notes_multilingual")
    for lang in notes:
        text(notes, lang, where="creator_notes_multilingual.")
    for name in ("creation_date", "modification_date"):
        if name in extra and extra[name] is not None and not is_number(extra[name]):
            raise CardError(f"The card's `{name}` should be a number (a Unix time), not {kind(extra[name])}.")
    assets = extra.get("assets")
    if assets is not None:
        if not isinstance(assets, list) or len(assets) > MAX_LIST:
            raise CardError(f"The card's `assets` should be a list of at most {MAX_LIST} assets.")
        for asset in assets:
            if not isinstance(asset, dict):
                raise CardError("Each of the card's `assets` should be an object with type, uri, name and ext.")
            for key in ("type", "uri", "name", "ext"):
                text(asset, key, where="assets[].")


def parse_book(raw: object) -> CharacterBook | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CardError(f"The card's `character_book` should be an object, not {kind(raw)}.")
    entries = raw.get("entries", [])
    if not isinstance(entries, list):
        raise CardError(f"The character book's `entries` should be a list, not {kind(entries)}.")
    if len(entries) > MAX_BOOK_ENTRIES:
        raise CardError(f"The character book has {len(entries):,} entries; the limit is {MAX_BOOK_ENTRIES}.")
    recursive = raw.get("recursive_scanning")
    if recursive is not None and not isinstance(recursive, bool):
        raise CardError("The character book's `recursive_scanning` should be true or false.")
    return CharacterBook(
        entries=tuple(_entry(e, i + 1) for i, e in enumerate(entries)),
        name=optional_text(raw, "name", "character_book."),
        description=optional_text(raw, "description", "character_book."),
        scan_depth=optional_int(raw, "scan_depth", "character_book."),
        token_budget=optional_int(raw, "token_budget", "character_book."),
        recursive_scanning=recursive,
        extensions=mapping(raw, "extensions", where="character_book."),
        extra={k: v for k, v in raw.items() if k not in _BOOK_KNOWN},
    )


def _entry(raw: object, number: int) -> BookEntry:
    where = f"character_book entry {number}: "
    if not isinstance(raw, dict):
        raise CardError(f"The {where}should be an object, not {kind(raw)}.")
    flags = {}
    for name in _ENTRY_FLAGS:
        value = raw.get(name)
        if value is not None and not isinstance(value, bool):
            raise CardError(f"The {where}`{name}` should be true or false, not {kind(value)}.")
        flags[name] = value
    order = optional_int(raw, "insertion_order", where)
    return BookEntry(
        keys=strings(raw, "keys", where, limit=MAX_ENTRY_KEYS, item_limit=KEY_LIMIT),
        content=text(raw, "content", where),
        secondary_keys=strings(raw, "secondary_keys", where, limit=MAX_ENTRY_KEYS, item_limit=KEY_LIMIT),
        constant=bool(flags["constant"]),
        selective=bool(flags["selective"]),
        insertion_order=100 if order is None else order,
        enabled=flags["enabled"] is not False,
        case_sensitive=flags["case_sensitive"],
        **{k: optional_text(raw, k, where) for k in _ENTRY_TEXT},
        id=id_or_position(raw, "id", where),
        position=id_or_position(raw, "position", where),
        priority=optional_int(raw, "priority", where),
        extensions=mapping(raw, "extensions", where),
        extra={k: v for k, v in raw.items() if k not in _ENTRY_KNOWN},
    )


# ---------------------------------------------------------------- writing


def to_dict(card: Card, spec: str | None = None) -> Json:
    """The card as a V2 or V3 JSON object (a V1 card is written as V2). Unknown fields go back where they were."""
    spec = spec or (card.spec if card.spec in SPEC_VERSIONS else V2)
    if spec not in SPEC_VERSIONS:
        raise ValueError(f"cannot write spec {spec!r}")
    data: Json = {
        "name": card.name,
        **{name: getattr(card, name) for name in _TEXT_FIELDS},
        "alternate_greetings": list(card.alternate_greetings),
        "tags": list(card.tags),
        "extensions": dict(card.extensions),
    }
    if card.character_book is not None:
        data["character_book"] = book_to_dict(card.character_book)
    data.update(card.extra)
    if spec == V3:
        data.setdefault("group_only_greetings", [])  # required by V3
    version = card.spec_version if spec == card.spec else SPEC_VERSIONS[spec]
    return {**card.top_extra, "spec": spec, "spec_version": version, "data": data}


def dump_json(card: Card, spec: str | None = None) -> bytes:
    return json.dumps(to_dict(card, spec), ensure_ascii=False, indent=2).encode()


def book_to_dict(book: CharacterBook) -> Json:
    out: Json = {k: getattr(book, k) for k in (*_BOOK_TEXT, *_BOOK_INTS, "recursive_scanning")}
    out = {k: v for k, v in out.items() if v is not None}
    out["extensions"] = dict(book.extensions)
    out["entries"] = [entry_to_dict(e) for e in book.entries]
    out.update(book.extra)
    return out


def entry_to_dict(entry: BookEntry) -> Json:
    out: Json = {
        "keys": list(entry.keys),
        "content": entry.content,
        "extensions": dict(entry.extensions),
        "enabled": entry.enabled,
        "insertion_order": entry.insertion_order,
        "case_sensitive": entry.case_sensitive,
        "name": entry.name,
        "priority": entry.priority,
        "id": entry.id,
        "comment": entry.comment,
        "selective": entry.selective,
        "secondary_keys": list(entry.secondary_keys),
        "constant": entry.constant,
        "position": entry.position,
    }
    out = {k: v for k, v in out.items() if v is not None}
    out.update(entry.extra)
    return out
