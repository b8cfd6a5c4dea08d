"""Scoring a narrator's takes, so the best of several drafts is posted (and a vote offers the best ones).

Discord-free and pure. A take loses for what readers of the issue's transcripts complained about: a
line spoken for a player or another speaker, the narrator talking as "I" (unless the story is told
that way), long runs copied from earlier narrations, and being too short; it gains for using the
lore that was triggered and for reflecting the author's note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from bot.stories.prompts import _speaks_for_player  # the stories' own detector

COPY_RUN = 8  # words copied in a row from an earlier narration that count as repeating it
SHORT_WORDS = 25  # fewer words than this reads as a stub
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|「[^」]*」|『[^』]*』|‘[^’]*’")
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I'll|I've|I'd|me|my|mine|myself)\b|我(?!们|們)", re.IGNORECASE)
_SPEAKER = re.compile(r"^\W{0,3}[A-Z][\w'’-]{1,30}(?: [A-Z][\w'’-]{1,30})?\W{0,2}\s*[:：]\s*\S")  # "Guard: Halt!"
_WORD = re.compile(r"[\u3400-\u9fff]|[^\W_]+", re.UNICODE)
_NOTE_WORD = 5  # letters a word of the author's note needs to count (skips "the", "and", ...)


@dataclass(frozen=True)
class TakeContext:
    names: tuple[str, ...]  # the players' characters (and their user names)
    earlier: tuple[str, ...] = ()  # earlier narrations, newest last
    lore_keys: tuple[str, ...] = ()  # keys of the lore entries the prompt included
    author_note: str = ""
    first_person_ok: bool = False  # the story itself is told as "I"


@dataclass(frozen=True)
class TakeScore:
    score: float  # higher is better; 1.0 is a clean take of fair length
    speaks_for_player: bool
    other_speaker: bool
    first_person: bool
    copied_run: int
    lore_used: float  # share of the included lore keys the take mentions (1.0 when there were none)
    note_used: float  # share of the author's note's content words the take uses (1.0 when there is none)
    words: int
    problems: tuple[str, ...] = field(default=())


def first_person(text: str) -> bool:
    """The narrator talks as "I" outside quoted speech (an NPC's quoted "I" is fine)."""
    return _FIRST_PERSON.search(_QUOTED.sub(" ", text.replace("’", "'"))) is not None


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def copied_run(text: str, earlier: Sequence[str]) -> int:
    """The longest run of words the take copies, in order, from any earlier narration."""
    mine, longest = words(text), 0
    for previous in earlier:
        other = words(previous)
        match = SequenceMatcher(None, mine, other, autojunk=False).find_longest_match(0, len(mine), 0, len(other))
        longest = max(longest, match.size)
    return longest


def score_take(text: str, context: TakeContext) -> TakeScore:
    lines = [line for line in text.replace("\r", "").split("\n") if line.strip()]
    names = list(context.names)
    speaks = any(_speaks_for_player(line, names) for line in lines)
    other = not speaks and any(_SPEAKER.match(line) for line in lines)
    talks_as_i = first_person(text) and not context.first_person_ok
    copied = copied_run(text, context.earlier)
    lowered, count = text.lower(), len(words(text))
    lore = _share([k for k in context.lore_keys if k.strip()], lambda k: k.lower() in lowered)
    note_words = sorted({w for w in words(context.author_note) if len(w) >= _NOTE_WORD})
    note = _share(note_words, lambda w: w in lowered)
    problems = [
        *(["speaks for a player"] if speaks else []),
        *(["gives another speaker a line"] if other else []),
        *(['talks as "I"'] if talks_as_i else []),
        *([f"copies {copied} words in a row"] if copied >= COPY_RUN else []),
        *(["too short"] if count < SHORT_WORDS else []),
    ]
    score = (
        1.0
        - 0.6 * speaks
        - 0.3 * other
        - 0.3 * talks_as_i
        - (min(0.4, 0.02 * copied) if copied >= COPY_RUN else 0.0)
        - 0.2 * max(0.0, 1 - count / SHORT_WORDS)
        + 0.1 * lore
        + 0.1 * note
    )
    return TakeScore(round(score, 4), speaks, other, talks_as_i, copied, lore, note, count, tuple(problems))


def rank_takes(texts: Sequence[str], context: TakeContext) -> list[tuple[int, TakeScore]]:
    """Every take's index and score, best first; ties keep the engine's order (so the choice is stable)."""
    scored = [(i, score_take(text, context)) for i, text in enumerate(texts)]
    return sorted(scored, key=lambda pair: (-pair[1].score, pair[0]))


def _share(items: Sequence[str], used: object) -> float:
    if not items:
        return 1.0
    return sum(1 for item in items if used(item)) / len(items)  # type: ignore[operator]
