"""Blocked words and phrases, matched the way people dodge filters: case, width, accents, invisible and
direction-control characters are ignored; words match whole (so "ass" does not hit "class"), phrases match
across any run of spaces. Pure functions: tested without a database."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

# Zero-width, soft hyphen, word joiner, BOM, and the bidirectional controls (embeddings, overrides, isolates).
_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u061c") | {
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
REDACTION = "█"


@dataclass(frozen=True)
class Hit:
    rule: int  # the blocked entry's index in the server's list
    start: int  # in the original text
    end: int


def fold(text: str) -> tuple[str, list[int]]:
    """The text as the matcher sees it, with each folded character's index in the original text."""
    out: list[str] = []
    where: list[int] = []
    for i, char in enumerate(text):
        if char in _INVISIBLE:
            continue
        for piece in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(piece):
                continue
            for folded in piece.casefold():
                out.append(folded)
                where.append(i)
    return "".join(out), where


def digest(term: str) -> str:
    """How a blocked entry is named in the audit log: never in clear."""
    return hashlib.sha256(fold(term)[0].encode("utf-8")).hexdigest()[:12]


def _pattern(term: str) -> re.Pattern[str] | None:
    folded = " ".join(fold(term)[0].split())
    if not folded:
        return None
    body = r"\s+".join(re.escape(word) for word in folded.split(" "))
    # Scripts written without spaces (CJK, Thai, ...) have no word boundaries to ask for.
    spaced = all(ord(c) < 0x0E00 or 0x1E00 <= ord(c) < 0x2E80 for c in folded)
    return re.compile(rf"(?<!\w){body}(?!\w)" if spaced else body)


class Matcher:
    """A compiled list of blocked words and phrases."""

    def __init__(self, terms: list[str]) -> None:
        self.terms = list(terms)
        self._patterns = [(i, p) for i, t in enumerate(self.terms) if (p := _pattern(t)) is not None]

    def find(self, text: str) -> list[Hit]:
        if not self._patterns or not text:
            return []
        folded, where = fold(text)
        hits = []
        for rule, pattern in self._patterns:
            for match in pattern.finditer(folded):
                hits.append(Hit(rule, where[match.start()], where[match.end() - 1] + 1))
        return sorted(hits, key=lambda h: (h.start, h.end))

    def redact(self, text: str, hits: list[Hit] | None = None) -> str:
        """Each blocked span blacked out, keeping the text around it."""
        hits = self.find(text) if hits is None else hits
        out, last = [], 0
        for hit in hits:
            if hit.start < last:
                if hit.end > last:  # overlapping hits: extend the current redaction
                    out.append(REDACTION * min(hit.end - last, 12))
                    last = hit.end
                continue
            out += [text[last : hit.start], REDACTION * min(max(hit.end - hit.start, 3), 12)]
            last = hit.end
        out.append(text[last:])
        return "".join(out)
