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


def _folded(term: str) -> str:
    return " ".join(fold(term)[0].split())


def _unspaced(folded: str) -> bool:
    """Scripts written without spaces (CJK, Thai, ...) have no word boundaries to ask for."""
    return not all(ord(c) < 0x0E00 or 0x1E00 <= ord(c) < 0x2E80 for c in folded)


def _alternation(terms: list[str], bounded: bool) -> re.Pattern[str] | None:
    if not terms:
        return None
    # Longest first, so "dark lord" wins over "dark" where both match.
    body = "|".join(r"\s+".join(map(re.escape, t.split(" "))) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)" if bounded else f"(?:{body})")


class Matcher:
    """A compiled list of blocked words and phrases: one regular expression for all of them."""

    def __init__(self, terms: list[str]) -> None:
        self.terms = list(terms)
        self._rule: dict[str, int] = {}
        for i, term in enumerate(self.terms):
            folded = _folded(term)
            if folded and folded not in self._rule:
                self._rule[folded] = i
        spaced = [t for t in self._rule if not _unspaced(t)]
        self._patterns = [
            p
            for p in (_alternation(spaced, True), _alternation([t for t in self._rule if _unspaced(t)], False))
            if p is not None
        ]

    def find(self, text: str) -> list[Hit]:
        if not self._patterns or not text:
            return []
        folded, where = fold(text)
        hits = []
        for pattern in self._patterns:
            for match in pattern.finditer(folded):
                rule = self._rule.get(" ".join(match.group(0).split()), 0)
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
