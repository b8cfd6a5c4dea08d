"""Checking a draft against its form: lines, syllables (or characters), rhyme scheme, refrains, acrostic.

The score ranks drafts; `passed` says whether every rule holds. Score: the mean of the parts the form
has — line count, metre (per line: 1 when in range, less the further it misses), rhyme (per group:
perfect 1, slant 0.5, the same word 0.25, none 0), refrains, acrostic letters, and the limerick's short
middle lines.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

from bot.craft import chinese, english
from bot.craft.clean import clean_draft
from bot.craft.forms import CHINESE, Form, acrostic_letters
from bot.craft.result import FormCheck, LineCheck, RefrainCheck, Rhyme, RhymeCheck

REFRAIN_SIMILARITY = 0.8  # a refrain may change a word or two, as villanelles often do
SUMMARY_PROBLEMS = 3
CHECKED_LINES = 40  # lines looked at one by one (or twice the form's most, if more): a runaway draft fails
# on its line count anyway, and a table of thousands of lines helps no one
LISTED_LINES = 6  # line numbers named in one problem


@dataclass(frozen=True)
class _Prosody:
    places: Callable[[str], tuple[int, int, tuple[str, ...]]]
    end: Callable[[str], str]
    rhyme: Callable[[str, str, str, str], Rhyme]


_ENGLISH = _Prosody(english.line_syllables, english.end_word, lambda a, b, _ca, _cb: english.rhyme(a, b))
_CHINESE = _Prosody(chinese.line_places, chinese.end_char, chinese.rhyme)


def check(form: Form, text: str, word: str = "") -> FormCheck:
    """Check a model's draft (cleaned here with `clean_draft`) against `form`; `word` is an acrostic's word."""
    lines = list(clean_draft(text))
    if form.language == CHINESE and form.meter:
        lines = chinese.clauses(lines)  # a couplet per line ("床前明月光，疑是地上霜。") is two lines
    prosody = _CHINESE if form.language == CHINESE else _ENGLISH
    letters = acrostic_letters(word, form.language) if form.acrostic else ""
    low, high = (len(letters), len(letters)) if form.acrostic else form.lines
    problems: list[str] = []
    parts: list[float] = [_count_part(len(lines), low, high, form.unit, problems)]
    lines = lines[: max(CHECKED_LINES, 2 * high)]
    checked = tuple(_line(form, prosody, i, line) for i, line in enumerate(lines))
    if form.meter:
        parts.append(_meter_part(form, checked, problems))
    if form.shorter[0]:
        parts.append(_shorter_part(form, checked, problems))
    scheme, rhymes = _best_scheme(form, prosody, lines)
    if scheme:
        parts.append(sum(r.score for r in rhymes) / len(rhymes) if rhymes else 0.0)
        problems.extend(_rhyme_problems(rhymes))
    refrains = tuple(_refrain(lines, source, repeats) for source, repeats in form.refrains)
    if refrains:
        parts.append(sum(1.0 if r.ok else r.similarity * 0.5 for r in refrains) / len(refrains))
        problems.extend(f"line {r.source} does not come back at lines {_join(r.lines)}" for r in refrains if not r.ok)
    if form.acrostic:
        parts.append(_acrostic_part(lines, letters, problems))
    score = round(sum(parts) / len(parts), 4)
    passed = not problems
    return FormCheck(
        form=form.name,
        language=form.language,
        unit=form.unit,
        lines=checked,
        line_range=(low, high),
        scheme_required=scheme,
        scheme_found=_found_scheme(prosody, lines) if scheme else "",
        rhymes=rhymes,
        refrains=refrains,
        problems=tuple(problems),
        score=score,
        passed=passed,
        summary=_summary(form, checked, rhymes, refrains, problems, letters),
    )


def _line(form: Form, prosody: _Prosody, index: int, text: str) -> LineCheck:
    low, high, guessed = prosody.places(text)
    want = form.meter[index] if index < len(form.meter) else None
    if want is None:
        counted, ok = low, not form.meter  # a line beyond a fixed metre is extra, so not ok
    elif high < want[0]:
        counted, ok = high, False
    elif low > want[1]:
        counted, ok = low, False
    else:  # some reading of the line fits: report the one nearest what is wanted
        counted, ok = max(low, want[0]), True
    return LineCheck(
        number=index + 1,
        text=text,
        low=want[0] if want else None,
        high=want[1] if want else None,
        counted=counted,
        ok=ok,
        guessed=guessed,
        end=prosody.end(text),
        tones=chinese.tones(text) if form.language == CHINESE else "",
    )


def _count_part(count: int, low: int, high: int, unit: str, problems: list[str]) -> float:
    if low <= count <= high:
        return 1.0
    want = str(low) if low == high else f"{low} to {high}"
    problems.append(f"{count} line{'s' if count != 1 else ''}, wants {want}")
    target = low if count < low else high
    return max(0.0, 1.0 - abs(count - target) / max(target, 1))


def _meter_part(form: Form, checked: tuple[LineCheck, ...], problems: list[str]) -> float:
    unit = form.unit
    total = 0.0
    for line in checked[: len(form.meter)]:
        if line.ok or line.low is None or line.high is None:
            total += 1.0
            continue
        bound = line.low if line.counted < line.low else line.high
        total += max(0.0, 1.0 - abs(line.counted - bound) / max(bound, 1))
        problems.append(f"line {line.number} has {line.counted} {_unit(unit, line.counted)}, wants {line.expected}")
    return total / len(form.meter)


def _shorter_part(form: Form, checked: tuple[LineCheck, ...], problems: list[str]) -> float:
    short, long_ = form.shorter
    if max(short + long_) >= len(checked):
        return 0.0  # the line-count problem already says what is missing
    if max(checked[i].counted for i in short) < min(checked[i].counted for i in long_):
        return 1.0
    problems.append(f"lines {_join(tuple(i + 1 for i in short))} should be shorter than the others")
    return 0.0


def _best_scheme(form: Form, prosody: _Prosody, lines: list[str]) -> tuple[str, tuple[RhymeCheck, ...]]:
    schemes = form.schemes
    if form.stanza:
        schemes = (_repeated(form.stanza, min(len(lines), form.lines[1])),)
    best: tuple[str, tuple[RhymeCheck, ...]] = ("", ())
    best_score = -1.0
    for scheme in schemes:
        groups = tuple(_group(prosody, lines, scheme, letter) for letter in dict.fromkeys(scheme) if letter != ".")
        score = sum(g.score for g in groups) / len(groups) if groups else 0.0
        if score > best_score:  # the first listed scheme wins a tie
            best, best_score = (scheme, groups), score
    return best


def _repeated(stanza: str, lines: int) -> str:
    """The stanza's scheme over as many whole stanzas as the lines fill (at least one), with fresh letters
    for each: "AA" over 6 lines is "AABBCC"; ".A.A" over 8 is ".A.A.B.B"."""
    letters = sorted(set(stanza) - {"."})
    out = []
    for k in range(max(1, lines // len(stanza))):
        shift = {ch: chr(ord("A") + (k * len(letters) + i) % 26) for i, ch in enumerate(letters)}
        out.append("".join(shift.get(ch, ".") for ch in stanza))
    return "".join(out)


def _group(prosody: _Prosody, lines: list[str], scheme: str, letter: str) -> RhymeCheck:
    wanted = [i for i, ch in enumerate(scheme) if ch == letter]
    present = [i for i in wanted if i < len(lines)]
    ends = [prosody.end(lines[i]) for i in present]
    contexts = [lines[i] for i in present]
    if len(present) < 2 or not all(ends):
        strength = Rhyme.NONE
    elif len(set(ends)) == 1:
        strength = Rhyme.IDENTICAL
    else:
        strength = _weakest_link(prosody, ends, contexts)
    return RhymeCheck(letter, tuple(i + 1 for i in present), tuple(ends), strength, missing=len(wanted) - len(present))


def _weakest_link(prosody: _Prosody, ends: list[str], contexts: list[str]) -> Rhyme:
    """Each ending's best rhyme with another ending in the group; the group is as strong as the weakest."""
    order = [Rhyme.NONE, Rhyme.IDENTICAL, Rhyme.SLANT, Rhyme.PERFECT]
    weakest = Rhyme.PERFECT
    for i, end in enumerate(ends):
        if not end:
            return Rhyme.NONE
        best = Rhyme.NONE
        for j, other in enumerate(ends):
            if i != j and end != other:
                found = prosody.rhyme(end, other, contexts[i], contexts[j])
                best = max(best, found, key=order.index)
        if best == Rhyme.NONE and ends.count(end) > 1:
            best = Rhyme.IDENTICAL
        weakest = min(weakest, best, key=order.index)
    return weakest


def _found_scheme(prosody: _Prosody, lines: list[str]) -> str:
    """The scheme the poem has: a new letter for each ending with no perfect rhyme among the earlier ones
    (slant rhymes are too loose to group by: "day", "date" and "temperate" would all fall together)."""
    letters: list[str] = []
    heads: list[tuple[str, str, str]] = []  # (letter, ending, line) of each group's first line
    for line in lines:
        end = prosody.end(line)
        letter = next(
            (g for g, e, ctx in heads if end and (end == e or prosody.rhyme(end, e, line, ctx) == Rhyme.PERFECT)),
            None,
        )
        if letter is None:
            letter = chr(ord("A") + len(heads) % 26)
            heads.append((letter, end, line))
        letters.append(letter)
    return "".join(letters)


def _rhyme_problems(rhymes: tuple[RhymeCheck, ...]) -> list[str]:
    problems = []
    for group in rhymes:
        if group.missing:
            continue  # the line count says so already
        if not group.rhyme.accepted:
            words = list(dict.fromkeys(group.words))
            shown = " / ".join(words[:LISTED_LINES]) + (" / …" if len(words) > LISTED_LINES else "")
            what = "repeat the same word" if group.rhyme == Rhyme.IDENTICAL else "do not rhyme"
            problems.append(f"lines {_join(group.lines)} {what} ({shown})")
    return problems


def _refrain(lines: list[str], source: int, repeats: tuple[int, ...]) -> RefrainCheck:
    if source >= len(lines):
        return RefrainCheck(source + 1, tuple(i + 1 for i in repeats), 0.0, False)
    key = _refrain_key(lines[source])
    sims = [SequenceMatcher(None, key, _refrain_key(lines[i])).ratio() if i < len(lines) else 0.0 for i in repeats]
    lowest = round(min(sims), 4)
    return RefrainCheck(source + 1, tuple(i + 1 for i in repeats), lowest, lowest >= REFRAIN_SIMILARITY)


def _refrain_key(line: str) -> str:
    return " ".join(english.words(line)) or line.strip()


def _acrostic_part(lines: list[str], letters: str, problems: list[str]) -> float:
    if not letters:
        problems.append("no word was given for the acrostic")
        return 0.0
    initials = "".join(_initial(line) for line in lines)
    hits = sum(1 for a, b in zip(initials, letters, strict=False) if a == b)
    if hits < len(letters) or len(initials) != len(letters):
        problems.append(f"the line initials spell {initials or 'nothing'}, wants {letters}")
    return hits / max(len(letters), len(initials))


def _initial(line: str) -> str:
    """The first letter (or Han character) of a line, accents off and upper-cased: "Élan" -> "E"."""
    for ch in line:
        if ch.isalnum():
            return unicodedata.normalize("NFKD", ch)[0].upper()
    return ""


def _summary(
    form: Form,
    lines: tuple[LineCheck, ...],
    rhymes: tuple[RhymeCheck, ...],
    refrains: tuple[RefrainCheck, ...],
    problems: list[str],
    letters: str,
) -> str:
    if problems:
        shown = "; ".join(problems[:SUMMARY_PROBLEMS])
        more = len(problems) - SUMMARY_PROBLEMS
        return f"form missed: {shown}" + (f"; and {more} more" if more > 0 else "")
    parts = [f"{sum(1 for line in lines if line.ok)}/{len(lines)} lines"]
    if rhymes:
        slant = sum(1 for r in rhymes if r.rhyme == Rhyme.SLANT)
        parts.append(f"{len(rhymes)}/{len(rhymes)} rhymes" + (f" ({slant} slant)" if slant else ""))
    if refrains:
        parts.append(f"{len(refrains)}/{len(refrains)} refrains")
    if letters:
        parts.append(f"spells {letters}")
    return "form checked: " + ", ".join(parts)


def _unit(unit: str, count: int) -> str:
    return unit if count != 1 else unit[:-1]


def _join(given: tuple[int, ...] | list[int]) -> str:
    numbers = list(given)
    if len(numbers) > LISTED_LINES:
        return ", ".join(map(str, numbers[: LISTED_LINES - 1])) + f" and {len(numbers) - LISTED_LINES + 1} more"
    return ", ".join(map(str, numbers[:-1])) + " and " + str(numbers[-1]) if len(numbers) > 1 else str(numbers[0])
