"""The prompt set: JSON Lines, one request per line, read into typed items.

    {"kind": "poem", "id": "haiku-harbour", "form": "haiku", "language": "en", "topic": "...",
     "mood": "", "word": "", "references": ["..."]}
    {"kind": "story", "id": "salt-road-1", "title": "...", "genre": "...", "premise": "...",
     "players": ["Mira", "Tobin"], "turns": [{"author": null, "text": "..."}, {"author": "Mira", "text": "..."}],
     "author_note": "", "pins": [], "lore": [{"keys": ["lantern"], "content": "..."}], "final": false}
    {"kind": "text", "id": "ppl-1", "text": "..."}

A story with no turns asks for the opening; otherwise for the next narration, the player turns after
the last narrator turn being this round's. Story prompts are built by the bot's own code
(`bot.stories.memory.ContextBuilder`, `bot.stories.prompts`), so they are the prompts a real story sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.craft import Form, get_form, language_code
from bot.llm.tokens import EstimatingCounter
from bot.llm.types import ChatMessage
from bot.settings import Settings
from bot.stories.memory import ContextBuilder
from bot.stories.prompts import opening_instruction, round_instruction, stop_sequences
from storage.lore import LoreEntry
from storage.stories import Phase, Player, Story
from storage.turns import Turn

DEFAULT_PROMPTS = Path(__file__).with_name("prompts.jsonl")
CONTEXT_BUDGET = Settings().story_prompt_tokens  # the bot's default prompt budget for stories


class PromptSetError(ValueError):
    """A line of the prompt set cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class PoemItem:
    id: str
    form: Form
    topic: str
    mood: str = ""
    word: str = ""
    references: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.form.key


@dataclass(frozen=True)
class StoryItem:
    id: str
    story: Story
    players: tuple[Player, ...]
    turns: tuple[Turn, ...]
    pins: tuple[str, ...] = ()
    lore: tuple[LoreEntry, ...] = ()
    final: bool = False
    references: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        if not self.turns:
            return "opening"
        return "ending" if self.final else "continuation"

    @property
    def group(self) -> str:
        return f"story:{self.kind}"

    @property
    def earlier_narration(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.turns if t.kind == "narrator")

    def messages(self) -> list[ChatMessage]:
        players = list(self.players)
        if self.kind == "opening":
            instruction = opening_instruction(players)
        else:
            last_narrator = max((i for i, t in enumerate(self.turns) if t.kind == "narrator"), default=-1)
            names = {p.user_id: p.name for p in players}
            instruction = round_instruction(list(self.turns[last_narrator + 1 :]), names, self.final)
        builder = ContextBuilder(EstimatingCounter(), CONTEXT_BUDGET)
        built = builder.assemble(self.story, players, list(self.pins), list(self.turns), list(self.lore), instruction)
        return built.messages

    def stops(self) -> tuple[str, ...]:
        return stop_sequences(list(self.players))


@dataclass(frozen=True)
class TextItem:
    id: str
    text: str


PromptItem = PoemItem | StoryItem | TextItem


def load(path: Path = DEFAULT_PROMPTS) -> list[PromptItem]:
    items: list[PromptItem] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
            item = parse(data, default_id=f"line-{number}")
        except (ValueError, TypeError, KeyError) as exc:
            raise PromptSetError(f"{where}: {exc}") from exc
        if item.id in seen:
            raise PromptSetError(f"{where}: the id {item.id!r} is used twice")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise PromptSetError(f"{path}: no prompts in it")
    return items


def select(items: list[PromptItem], limit: int | None = None, per_group: int | None = None) -> list[PromptItem]:
    """The first `per_group` prompts of each group (a form, a kind of narration; perplexity texts, which
    cost little, are all kept), then the first `limit` of those, in the file's order."""
    if per_group:
        counts: dict[str, int] = {}
        kept = []
        for item in items:
            group = "text" if isinstance(item, TextItem) else item.group
            counts[group] = counts.get(group, 0) + 1
            if isinstance(item, TextItem) or counts[group] <= per_group:
                kept.append(item)
        items = kept
    return items[:limit] if limit else items


def parse(data: Any, default_id: str = "") -> PromptItem:
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    kind = data.get("kind")
    item_id = str(data.get("id") or default_id)
    if kind == "poem":
        language = language_code(data.get("language"))
        if language is None:
            raise ValueError(f"unknown language {data.get('language')!r}; use en or zh")
        return PoemItem(
            id=item_id,
            form=get_form(str(data["form"]), language),
            topic=_text(data, "topic", required=True),
            mood=_text(data, "mood"),
            word=_text(data, "word"),
            references=_strings(data, "references"),
        )
    if kind == "story":
        return _story(data, item_id)
    if kind == "text":
        return TextItem(id=item_id, text=_text(data, "text", required=True))
    raise ValueError(f"`kind` must be poem, story or text, not {kind!r}")


def _story(data: dict[str, Any], item_id: str) -> StoryItem:
    names = _strings(data, "players")
    if not names:
        raise ValueError("a story needs at least one player")
    players = tuple(Player(1, i, name, i, 0.0, None) for i, name in enumerate(names, start=1))
    ids = {p.name: p.user_id for p in players}
    turns = []
    for seq, raw in enumerate(data.get("turns") or [], start=1):
        author = raw.get("author")
        if author is not None and author not in ids:
            raise ValueError(f"turn {seq} is by {author!r}, who is not among the players")
        text = str(raw["text"])
        kind = "narrator" if author is None else "player"
        turns.append(Turn(seq, 1, seq, 0, kind, ids.get(author or ""), text, 0, len(text.split()), 0.0, None))
    story = Story(
        id=1, guild_id=1, channel_id=1, starter_id=1, title=_text(data, "title", required=True),
        genre=_text(data, "genre") or "fantasy", premise=_text(data, "premise", required=True), mode="free",
        turn_timeout=0, max_rounds=0, narrate_every=1, choices=1, phase=Phase.NARRATING, paused=False, round=1,
        deadline=None, author_note=_text(data, "author_note"), summary="", summary_upto=0, lobby_message_id=None,
        created_at=0.0, ended_at=None,
    )  # fmt: skip
    lore = tuple(
        LoreEntry(i, 1, 1, tuple(entry["keys"]), str(entry["content"]), int(entry.get("priority", 0)), 1, 0.0)
        for i, entry in enumerate(data.get("lore") or [], start=1)
    )
    return StoryItem(
        item_id, story, players, tuple(turns), _strings(data, "pins"), lore, bool(data.get("final")),
        _strings(data, "references"),
    )  # fmt: skip


def _text(data: dict[str, Any], key: str, required: bool = False) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"`{key}` is required")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"`{key}` must be a string")
    return value.strip()


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"`{key}` must be a list of strings")
    return tuple(value)
