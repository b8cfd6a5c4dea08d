"""An NPC: a SillyTavern-style character card that belongs to a server, and the rules for its fields.

Pure data and pure checks, no Discord and no SQL: storage/npcs.py stores an `Npc`, bot/npcs/cards.py
turns cards into one and back, the cogs show it. The card fields keep SillyTavern's names (V2/V3 `data`
keys) so a card survives a round trip; `extra` holds the card fields Taleweaver does not know.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from typing import Any

from bot.text import InputProblem, clean_input

NAME_LIMIT = 80  # Discord's limit for a webhook message's username
# Card fields that are plain text, with the longest each may be. A modal field holds at most 4,000.
TEXT_LIMITS: dict[str, int] = {
    "description": 8000,
    "personality": 2000,
    "scenario": 4000,
    "first_mes": 4000,
    "mes_example": 8000,
    "system_prompt": 4000,
    "post_history_instructions": 2000,
    "creator": 200,
    "creator_notes": 4000,
    "character_version": 100,
}
# How the commands and errors call the fields.
LABELS: dict[str, str] = {
    "name": "name",
    "description": "persona",
    "personality": "personality",
    "scenario": "scenario",
    "first_mes": "greeting",
    "mes_example": "example dialogue",
    "system_prompt": "system prompt",
    "post_history_instructions": "post-history instructions",
    "creator": "creator",
    "creator_notes": "creator notes",
    "character_version": "character version",
}
MAX_LIST_ITEMS = 50  # alternate greetings, tags
TAG_LIMIT = 100

# Discord refuses these inside a webhook's username (50035); "everyone"/"here" alone are refused too.
_FORBIDDEN_IN_NAME = ("discord", "clyde", "@", "#", ":", "```")
_RESERVED_NAMES = ("everyone", "here")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e]")
_MENTION = re.compile(r"<(@[!&]?|#)\d+>")


@dataclass(frozen=True)
class Npc:
    """A character. Card fields first (SillyTavern names), then what the server keeps about it.

    An `Npc` with `id == 0` is not stored yet (a card just read, a form just filled in).
    """

    name: str
    description: str = ""  # the persona
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""  # the greeting
    mes_example: str = ""  # example dialogue
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    creator: str = ""
    creator_notes: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # unknown card fields, kept for round trips
    # the server's side
    id: int = 0
    guild_id: int = 0
    creator_id: int = 0
    avatar_url: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def with_changes(self, **changes: Any) -> Npc:
        return replace(self, **changes)

    @property
    def greetings(self) -> tuple[str, ...]:
        return tuple(g for g in (self.first_mes, *self.alternate_greetings) if g.strip())


CARD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Npc) if f.name not in {
    "extra", "id", "guild_id", "creator_id", "avatar_url", "created_at", "updated_at",
})  # fmt: skip


def name_key(name: str) -> str:
    """What makes two names the same NPC on a server: case and width folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_name(raw: str | None) -> str:
    """A name as typed by a user: cleaned, and refused with a specific reason if Discord would refuse it."""
    name = _INVISIBLE.sub("", clean_input(raw, field="NPC name", max_length=NAME_LIMIT * 4, multiline=False))
    name = " ".join(name.split())
    if not name:
        raise InputProblem("The NPC name is empty (invisible characters don't count). Please write something.")
    if len(name) > NAME_LIMIT:
        raise InputProblem(f"The NPC name is {len(name)} characters long; Discord allows at most {NAME_LIMIT}.")
    if _MENTION.search(name):
        raise InputProblem("An NPC name cannot contain a mention. Please use plain words.")
    folded = unicodedata.normalize("NFKC", name).casefold()
    for bad in _FORBIDDEN_IN_NAME:
        if bad in folded:
            shown = "`" + bad + "`" if bad != "```" else "three backticks"
            raise InputProblem(f"Discord does not allow {shown} in a webhook's name, so an NPC name cannot contain it.")
    if folded in _RESERVED_NAMES:
        raise InputProblem(f"“{name}” is reserved by Discord; please pick another NPC name.")
    return name


def speaking_name(name: str) -> str:
    """A name Discord accepts as a webhook username, whatever is stored (cards are imported from anywhere).

    Forbidden substrings get a zero-width break ("Disc\u200bord") so the name still reads the same.
    """
    shown = " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFC", name)).split())
    shown = _MENTION.sub("", shown).replace("@", "＠").replace("#", "＃").replace(":", "꞉").replace("```", "ˋˋˋ")
    for bad in ("discord", "clyde"):
        shown = re.sub(bad, lambda m: m.group()[:2] + "\u200b" + m.group()[2:], shown, flags=re.IGNORECASE)
    if unicodedata.normalize("NFKC", shown).casefold().strip() in _RESERVED_NAMES or not shown.strip():
        shown = f"NPC {shown}".strip()
    return shown[:NAME_LIMIT]


def check_text(field_name: str, raw: str | None, *, required: bool = False) -> str:
    """One of the long card fields as typed by a user, cleaned and within its limit ("" when left empty)."""
    label = LABELS.get(field_name, field_name)
    if not required and not (raw or "").strip():
        return ""
    return clean_input(raw, field=label, max_length=TEXT_LIMITS[field_name])


def check_list(label: str, items: list[str] | tuple[str, ...], *, item_limit: int) -> tuple[str, ...]:
    if len(items) > MAX_LIST_ITEMS:
        raise InputProblem(f"An NPC can have at most {MAX_LIST_ITEMS} {label}.")
    return tuple(clean_input(item, field=label, max_length=item_limit) for item in items if item.strip())


def parse_tags(raw: str | None) -> tuple[str, ...]:
    """`"elf, merchant ,  elf"` -> ("elf", "merchant")."""
    tags: list[str] = []
    for part in (raw or "").split(","):
        tag = " ".join(part.split())
        if tag and tag not in tags:
            tags.append(tag)
    return check_list("tags", tags, item_limit=TAG_LIMIT)
