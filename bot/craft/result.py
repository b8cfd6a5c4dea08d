"""What a form check finds: typed, frozen, and ready to render as a footer or a per-line table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Rhyme(Enum):
    """How two line endings rhyme. `score` is what a rhyme is worth when drafts are ranked."""

    PERFECT = "perfect"
    SLANT = "slant"
    IDENTICAL = "identical"  # the same word again: not a rhyme, except where a refrain repeats it
    NONE = "none"

    @property
    def score(self) -> float:
        return {"perfect": 1.0, "slant": 0.5, "identical": 0.25, "none": 0.0}[self.value]

    @property
    def accepted(self) -> bool:
        """Slant rhyme is an accepted device in English verse, so a form passes with it (the score is lower)."""
        return self in (Rhyme.PERFECT, Rhyme.SLANT)


@dataclass(frozen=True)
class LineCheck:
    number: int  # 1-based
    text: str
    low: int | None  # the syllables (or characters) the form wants on this line; None = any
    high: int | None
    counted: int  # the reading closest to what is wanted
    ok: bool
    guessed: tuple[str, ...] = ()  # words whose syllables were estimated (not in the dictionary)
    end: str = ""  # the word (or character) the line rhymes on
    tones: str = ""  # 平仄, for Chinese lines

    @property
    def expected(self) -> str:
        if self.low is None or self.high is None:
            return "any"
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True)
class RhymeCheck:
    group: str  # the letter in the scheme ("A")
    lines: tuple[int, ...]  # 1-based line numbers the scheme puts in this group (those present)
    words: tuple[str, ...]
    rhyme: Rhyme  # the weakest link in the group
    missing: int = 0  # lines of the group the poem does not have

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.rhyme.accepted

    @property
    def score(self) -> float:
        wanted = len(self.lines) + self.missing
        return self.rhyme.score * len(self.lines) / wanted if wanted else 0.0


@dataclass(frozen=True)
class RefrainCheck:
    source: int  # 1-based line that is repeated
    lines: tuple[int, ...]  # where it must come back
    similarity: float  # the lowest, 0..1
    ok: bool


@dataclass(frozen=True)
class FormCheck:
    form: str
    language: str
    unit: str  # "syllables" or "characters"
    lines: tuple[LineCheck, ...]
    line_range: tuple[int, int]
    scheme_required: str  # "" when the form has no rhyme scheme
    scheme_found: str
    rhymes: tuple[RhymeCheck, ...]
    refrains: tuple[RefrainCheck, ...]
    problems: tuple[str, ...]  # one short sentence each, in order of the poem
    score: float  # 0..1, for ranking drafts
    passed: bool
    summary: str  # "form checked: 3/3 lines", or what misses and by how much

    @property
    def lines_ok(self) -> int:
        return sum(1 for line in self.lines if line.ok)

    def table(self) -> str:
        """The per-line check as plain text, one row a line (for a "Show the check" view)."""
        rows = [f"{'#':>2}  {'wants':>5}  {'has':>3}  ok  {'ends on':<12} line"]
        for line in self.lines:
            mark = "✓" if line.ok else "✗"
            note = f"  (guessed: {', '.join(line.guessed)})" if line.guessed else ""
            tones = f"  [{line.tones}]" if line.tones else ""
            rows.append(
                f"{line.number:>2}  {line.expected:>5}  {line.counted:>3}  {mark:<2}  {line.end[:12]:<12} "
                f"{line.text}{tones}{note}"
            )
        if self.scheme_required:
            rows.append(f"rhyme scheme: wants {self.scheme_required}, found {self.scheme_found}")
        for group in self.rhymes:
            rows.append(f"  {group.group}: {' / '.join(group.words) or '-'} -> {group.rhyme.value}")
        for refrain in self.refrains:
            where = ", ".join(map(str, refrain.lines))
            rows.append(f"refrain of line {refrain.source} at lines {where}: {'✓' if refrain.ok else '✗'}")
        return "\n".join(rows)

    def to_json(self) -> str:
        """The whole check as JSON, to store beside the poem (a "Show the check" button outlives a restart)."""
        return json.dumps(asdict(self), ensure_ascii=False, default=lambda v: v.value if isinstance(v, Enum) else v)

    @classmethod
    def from_json(cls, text: str) -> FormCheck:
        data: dict[str, Any] = json.loads(text)
        return cls(
            **{
                **data,
                "lines": tuple(LineCheck(**{**x, "guessed": tuple(x["guessed"])}) for x in data["lines"]),
                "line_range": tuple(data["line_range"]),
                "rhymes": tuple(
                    RhymeCheck(
                        **{**x, "lines": tuple(x["lines"]), "words": tuple(x["words"]), "rhyme": Rhyme(x["rhyme"])}
                    )
                    for x in data["rhymes"]
                ),
                "refrains": tuple(RefrainCheck(**{**x, "lines": tuple(x["lines"])}) for x in data["refrains"]),
                "problems": tuple(data["problems"]),
            }
        )
