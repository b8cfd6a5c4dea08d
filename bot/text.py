"""Text helpers for what goes to and comes from Discord: cleaning input, splitting, escaping, defusing.

Pure functions, no Discord objects, so they are easy to test exhaustively.
"""

from __future__ import annotations

import re
import unicodedata

MESSAGE_LIMIT = 2000

# Bidirectional controls (marks, embeddings, overrides, isolates): they make echoed text read backwards
# ("\u202e" turns "Nadia eman laer" around) and leak out of the name they came in. Right-to-left
# letters (Arabic, Hebrew) need none of them to display right, so they are removed, never the letters.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = dict.fromkeys(map(ord, BIDI_CONTROLS), None)
# Zero-width and direction-control characters: invisible, so a "non-empty" text made of them is empty.
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e" + BIDI_CONTROLS  # zero-width, soft hyphen
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MANY_NEWLINES = re.compile(r"\n{3,}")
# No word boundary: whatever follows "@everyone" (e.g. "@everyone_"), a zero-width space after the @ is harmless.
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#-])")
_SPLIT_AFTER = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


class InputProblem(ValueError):
    """User input that cannot be used as it is; the message tells the user what to change."""


def visible_length(text: str) -> int:
    return len(text.translate(_INVISIBLE).strip())


def clean_input(text: str | None, *, field: str, max_length: int, min_length: int = 1, multiline: bool = True) -> str:
    """Normalize user text (NFC, no control or bidirectional-control characters, trimmed) and check its length.

    Zero-width characters are kept inside the text (they join emoji) but do not count as content.
    """
    text = strip_bidi(unicodedata.normalize("NFC", text or ""))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _MANY_NEWLINES.sub("\n\n", text) if multiline else " ".join(text.split())
    text = text.strip().strip(_INVISIBLE_CHARS).strip()
    visible = visible_length(text)
    if visible < min_length:
        if visible == 0:
            raise InputProblem(f"The {field} is empty (invisible characters don't count). Please write something.")
        raise InputProblem(f"The {field} is too short: at least {min_length} characters, please.")
    if len(text) > max_length:
        raise InputProblem(
            f"The {field} is {len(text):,} characters long; the limit is {max_length:,}. Please shorten it."
        )
    return text


def defuse_mentions(text: str) -> str:
    """Break @everyone/@here and role mentions so they cannot ping even if mentions were allowed.

    Every message also goes out with `AllowedMentions.none()`; this is the second lock on the door,
    and it keeps the text from *looking* like a ping to readers.
    """
    text = _MASS_MENTION.sub(lambda m: "@\u200b" + m.group(1), text)
    return _ROLE_MENTION.sub(lambda m: "<\u200b@&" + m.group(1) + ">", text)


def strip_bidi(text: str) -> str:
    """Remove bidirectional control characters; right-to-left letters stay as they are."""
    return text.translate(_BIDI)


def echo(text: str) -> str:
    """User- or model-written text as the bot shows it: every string it echoes passes through here.

    No bidirectional controls, and no mention that could ping or pose as one: @everyone, @here, roles,
    and users: no "<@" at all (the bot writes its own `<@id>` around echoed text, never inside it).
    """
    return defuse_mentions(strip_bidi(text)).replace("<@", "<\u200b@")


def escape_markdown(text: str) -> str:
    """Show user text literally when quoted back (no bold, links, headings or code fences)."""
    return _MARKDOWN.sub(r"\\\1", text)


def quote(text: str, limit: int = 200) -> str:
    """A short, escaped, mention-safe excerpt of user text for confirmations and errors."""
    flat = " ".join(strip_bidi(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return echo(escape_markdown(flat))


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split text into chunks of at most `limit` characters at the most natural boundary available:
    paragraph, line, sentence, clause, word; and only as a last resort inside a word (never inside
    an emoji sequence or between a letter and its combining mark). Empty text gives no chunks.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n ")
        if head:
            chunks.append(head)
    if rest.strip():
        chunks.append(rest)
    return chunks


def _best_cut(text: str, limit: int) -> int:
    window = text[:limit]
    for sep in _SPLIT_AFTER:
        at = window.rfind(sep)
        if at >= limit // 3:  # a boundary too early would make a tiny chunk; try a finer one
            return at + len(sep)
    cut = limit
    while cut > 1 and _joins(text, cut):
        cut -= 1
    return cut if cut > 1 else limit


def _joins(text: str, cut: int) -> bool:
    """True if cutting before text[cut] would split a character cluster."""
    nxt, prev = text[cut], text[cut - 1]
    # By category, not `unicodedata.combining`: many marks (Devanagari and Thai vowel signs, the keycap
    # U+20E3) have combining class 0 yet belong to the character before them.
    if unicodedata.category(nxt).startswith("M") or nxt in "\u200d\ufe0f\ufe0e" or prev == "\u200d":
        return True
    if 0x1F3FB <= ord(nxt) <= 0x1F3FF or 0xE0020 <= ord(nxt) <= 0xE007F:  # skin tone; subdivision-flag tag
        return True
    if _regional(nxt) and _regional(prev):  # a flag is a pair of regional indicators: count the run
        start = cut - 1
        while start > 0 and _regional(text[start - 1]):
            start -= 1
        return (cut - start) % 2 == 1
    return 0xDC00 <= ord(nxt) <= 0xDFFF  # a lone low surrogate (only in malformed input)


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"'”’)]*|$)")
_WORD_RUN = re.compile(r"\b(\w+)(?:[\s,]+\1\b){3,}", re.IGNORECASE)


def collapse_word_runs(text: str, keep: int = 3) -> str:
    """ "eh eh eh eh eh eh" -> "eh eh eh": a small model stuck on one word, not a refrain."""
    return _WORD_RUN.sub(lambda m: " ".join([m.group(1)] * keep), text)


def drop_repeated_sentences(text: str) -> str:
    """Keep each sentence the first time it appears; drop later copies (a small model's loops).

    Paragraphs left empty disappear. Meant for prose; poems repeat lines on purpose.
    """
    seen: set[str] = set()
    paragraphs = []
    for paragraph in text.split("\n\n"):
        lines = []
        for line in paragraph.split("\n"):
            kept = []
            for sentence in _SENTENCE.findall(line):
                key = " ".join(re.sub(r"[^\w\s]", "", sentence).lower().split())
                if key and key in seen:
                    continue
                seen.add(key)
                kept.append(sentence)
            if "".join(kept).strip() or not line.strip():
                lines.append("".join(kept).strip())
        if "\n".join(lines).strip():
            paragraphs.append("\n".join(lines).strip())
    return "\n\n".join(paragraphs)


_UP_TO_BOUNDARY = re.compile(r"(?s).*(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|\n)")


def cut_at_boundary(text: str) -> str:
    """A text stopped mid-way (time ran out), cut back to its last line break or sentence end.

    With no boundary in its last two thirds the text is kept whole and marked as cut with "…".
    """
    text = text.rstrip()
    found = _UP_TO_BOUNDARY.match(text)
    kept = found.group().rstrip() if found else ""
    if kept and len(kept) >= len(text) // 3:
        return kept
    return text + "…" if text else text


def truncate(text: str, limit: int, marker: str = "…") -> str:
    return text if len(text) <= limit else text[: limit - len(marker)].rstrip() + marker
