"""Chinese prosody from `pypinyin`: characters counted, rhymes by final, and level/oblique tones (平仄).

Rhyme groups are the fourteen of 中华新韵 (the modern standard for new-style regulated verse): finals
with the same body (韵身: the vowel and the closing n/ng, the medial i/u/ü aside) rhyme, so 光 guang,
霜 shuang and 乡 xiang all belong to 唐. The classical 平水韵 would need a rhyme table that no maintained
PyPI package ships, so it is not used. 平 is Mandarin's first and second tone, 仄 the third and fourth;
the old entering tone (入声) is not distinguished, as 中华新韵 itself prescribes.

A character with several readings (还 hái / huán) rhymes when any of its readings does: the poet chose
one, and pypinyin's choice in context is a guess. Traditional and simplified characters read the same.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin, pinyin
from pypinyin.contrib.tone_convert import to_finals, to_initials

from bot.craft.result import Rhyme

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
# Letters or digits that are not Han characters: an English word in a Chinese line counts as one place.
_OTHER_WORD = re.compile(r"(?:(?![\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff])[^\W_])+")
CLAUSE_BREAK = re.compile(r"[，,。．.！!？?；;、：:]+")
_APICAL_INITIALS = frozenset({"z", "c", "s", "zh", "ch", "sh", "r"})

# 中华新韵: the fourteen groups, by pypinyin's strict finals ("v" is ü).
_GROUPS = {
    "麻": ("a", "ia", "ua"),
    "波": ("o", "e", "uo", "io"),
    "皆": ("ie", "ve", "ê"),
    "开": ("ai", "uai"),
    "微": ("ei", "uei"),
    "豪": ("ao", "iao"),
    "尤": ("ou", "iou"),
    "寒": ("an", "ian", "uan", "van"),
    "文": ("en", "in", "uen", "vn"),
    "唐": ("ang", "iang", "uang"),
    "庚": ("eng", "ing", "ueng", "ong", "iong"),
    "齐": ("i", "v", "er"),
    "姑": ("u",),
}
GROUP_OF_FINAL = {final: group for group, finals in _GROUPS.items() for final in finals}
_NEIGHBOURS = frozenset({frozenset({"支", "齐"})})  # commonly rhymed together (通押): a slant rhyme


def han_count(line: str) -> int:
    return len(HAN.findall(line))


def line_places(line: str) -> tuple[int, int, tuple[str, ...]]:
    """(count, count, guessed): the places in a line — Han characters, plus any other word as one."""
    places = han_count(line) + len(_OTHER_WORD.findall(line))
    return places, places, ()


def end_char(line: str) -> str:
    found = HAN.findall(line)
    return found[-1] if found else ""


def clauses(text_lines: list[str]) -> list[str]:
    """Lines split at clause punctuation (，。！？；), so "床前明月光，疑是地上霜。" gives two lines."""
    out: list[str] = []
    for line in text_lines:
        out.extend(part.strip() for part in CLAUSE_BREAK.split(line) if part.strip())
    return out


def rhyme_group(char: str, context: str = "") -> tuple[str, ...]:
    """The rhyme groups a character can belong to: its reading in context first, then its other readings."""
    return tuple(dict.fromkeys(_group(initial, final) for initial, final in _readings(char, context)))


def rhyme(a: str, b: str, context_a: str = "", context_b: str = "") -> Rhyme:
    if not a or not b:
        return Rhyme.NONE
    if a == b:
        return Rhyme.IDENTICAL
    groups_a, groups_b = rhyme_group(a, context_a), rhyme_group(b, context_b)
    if set(groups_a) & set(groups_b):
        return Rhyme.PERFECT
    if any(frozenset({x, y}) in _NEIGHBOURS for x in groups_a for y in groups_b):
        return Rhyme.SLANT
    return Rhyme.NONE


def tones(line: str) -> str:
    """平 or 仄 for each Han character of the line, read in context; "?" for a neutral or unknown tone."""
    chars = "".join(HAN.findall(line))
    if not chars:
        return ""
    marks = []
    # pypinyin documents `errors` returning a list (one reading per character); its stub says str only.
    unknown = lambda c: ["?"] * len(c)  # noqa: E731
    for reading in lazy_pinyin(chars, style=Style.TONE3, neutral_tone_with_five=True, errors=unknown):  # pyright: ignore[reportArgumentType]
        tone = reading[-1:] if reading[-1:].isdigit() else ""
        marks.append("平" if tone in ("1", "2") else "仄" if tone in ("3", "4") else "?")
    return "".join(marks)


# --- internals ------------------------------------------------------------------------------------
def _group(initial: str, final: str) -> str:
    if final == "i" and initial in _APICAL_INITIALS:
        return "支"  # the buzzing -i of zhi, chi, shi, ri, zi, ci, si
    return GROUP_OF_FINAL.get(final, final)


@lru_cache(maxsize=4096)
def _readings(char: str, context: str) -> tuple[tuple[str, str], ...]:
    """(initial, final) pairs: the reading pypinyin picks for `char` at the end of `context`, then all others."""
    syllables: list[str] = []
    if context and context.endswith(char):
        syllables.append(lazy_pinyin(context, style=Style.NORMAL)[-1])
    syllables.extend(pinyin(char, style=Style.NORMAL, heteronym=True)[0])
    return tuple(dict.fromkeys((to_initials(s, strict=True), to_finals(s, strict=True)) for s in syllables))
