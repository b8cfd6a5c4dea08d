"""Cleaning a model's draft into the lines of a poem, before it is checked or shown."""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_LABELLED_TITLE = re.compile(r"^\s*[*_]*\s*(title|标题|題目|题目)\s*[:：]", re.IGNORECASE)
_WHOLE_EMPHASIS = re.compile(r"^\s*(\*\*|__)[^*_]+(\*\*|__)\s*$")  # a line that is only **bold**
_BOOK_TITLE = re.compile(r"^\s*[《【〈「『][^》】〉」』]*[》】〉」』]\s*$")  # 《静夜思》 on its own line
_PREFACE = re.compile(
    r"^\s*(sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is|this is|i (?:have )?(?:wrote|written)|"
    r"以下是|下面是|这是|這是|好的)\b.*[:：]\s*$|^\s*(sure|certainly|of course|okay|ok|好的|当然|當然)[，,。.!！]?\s*$",
    re.IGNORECASE,
)
_AFTERWORD = re.compile(
    r"^\s*[(（]?\s*(note|notes|explanation|i hope|this poem|the poem|in this poem|注|注释|注釋|赏析|賞析)\b",
    re.IGNORECASE,
)
_NUMBERING = re.compile(
    r"^\s*(?:(?:line|stanza)\s*\d+\s*[:.)-]|\d{1,2}\s*[.)、:：]|[(（]\d{1,2}[)）]|[-*•>]+)\s+", re.I
)
_EMPHASIS = re.compile(r"(\*\*|__|\*|~~|`)")
_WRAPPING_QUOTES = ('"', "“", "”")


def clean_draft(text: str) -> tuple[str, ...]:
    """The poem's lines from a model's answer, in order, each stripped; never empty strings.

    Removed, in this order:
    1. invisible characters (zero-width, direction controls) and carriage returns, after NFC;
    2. code fences (``` or ~~~ lines) and markdown headings (`# Title`);
    3. a preface line before the poem ("Here is a haiku about the sea:", "Sure!", "以下是…："),
       a labelled title ("Title: Moon", "标题：…"), a bold-only first line (`**Moon**`) and a title in
       《》 or 【】 on its own line;
    4. an afterword, from the first line that starts "Note:", "I hope", "This poem", "注：" on;
    5. numbering and bullets at line starts ("1.", "2)", "Line 3:", "- ", "> ");
    6. markdown emphasis marks (**, *, __, ~~, `) anywhere, and quotes wrapping a line or the whole poem;
    7. blank lines (stanza breaks are not kept: the forms count lines, not stanzas).
    Lines that repeat are kept: refrains repeat on purpose.
    """
    text = unicodedata.normalize("NFC", text or "").translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n")
    raw = [line for line in text.split("\n") if not _FENCE.match(line) and not _HEADING.match(line)]
    lines: list[str] = []
    for line in raw:
        if _AFTERWORD.match(line) and lines:
            break
        if not lines and _is_front_matter(line):
            continue
        line = _NUMBERING.sub("", line)
        line = _EMPHASIS.sub("", line).strip()
        if len(line) > 1 and line[0] in _WRAPPING_QUOTES and line[-1] in _WRAPPING_QUOTES:
            line = line[1:-1].strip()
        if line:
            lines.append(line)
    if len(lines) > 1 and lines[0][0] in _WRAPPING_QUOTES and lines[-1][-1] in _WRAPPING_QUOTES:
        lines[0], lines[-1] = lines[0][1:].strip(), lines[-1][:-1].strip()  # the whole poem in quotes
    return tuple(line for line in lines if line)


def _is_front_matter(line: str) -> bool:
    """A line before the poem that is not part of it (checked only until the first kept line)."""
    if not line.strip():
        return True
    return bool(
        _PREFACE.match(line) or _LABELLED_TITLE.match(line) or _WHOLE_EMPHASIS.match(line) or _BOOK_TITLE.match(line)
    )
