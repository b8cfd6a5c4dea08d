"""English prosody: syllables and end rhymes, from the CMU Pronouncing Dictionary (`pronouncing`).

A word is read, in order, as
1. a number, spoken by `num2words` ("3" -> three, "1999" -> nineteen ninety-nine, "3rd" -> third);
2. a dictionary word, with every pronunciation the dictionary gives ("fire" is 1 or 2 syllables);
3. a hyphenated or clitic form of dictionary words ("well-known", "moon's", "mightn't");
4. a compound of two dictionary words ("taleweaver" = tale + weaver);
5. otherwise an estimate from the `syllables` package, and for rhyme the spelling of its last vowel and
   what follows. Such words are "guessed", and a check says which words it guessed.
`pyphen` was the other candidate for step 5; it finds hyphenation points, not syllables ("area" and
"idea" have none, so it reads them as one syllable), so `syllables` is used instead.

Rhymes compare the part of the word from its last stressed vowel on, without stress marks:
PERFECT when equal ("moon"/"June"), SLANT when only the vowel (assonance: "night"/"time", with as many
syllables after it) or only the closing consonants (consonance: "shape"/"keep", "love"/"move") agree,
IDENTICAL for the same word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import pronouncing
import syllables as syllable_estimator
from num2words import num2words

from bot.craft.result import Rhyme

APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_NUMBER = re.compile(r"^(\d[\d,]*)(?:\.(\d+))?(st|nd|rd|th|s)?$")
# A word: letters with inner hyphens or apostrophes ('tis, o'er, well-known, walkin'), or a number.
_WORD = re.compile(r"'?[^\W\d_]+(?:[-'][^\W\d_]+)*'?|\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th|s)?")
_CLITICS = ("'s", "'ll", "'d", "'ve", "'re", "'m", "s'")
_VOWELS = re.compile(r"[aeiouy]+")
_MIN_PART = 3  # letters in each half of a compound, so "a" + "way" does not read "away" twice


@dataclass(frozen=True)
class WordSound:
    word: str
    syllables: tuple[int, ...]  # every count a reading allows, ascending
    rhymes: tuple[str, ...]  # rhyming parts: phonemes from the last stressed vowel, or "~spelling" if guessed
    guessed: bool = False


def words(line: str) -> list[str]:
    """The words of a line, lower-cased, without punctuation or emoji ("Don't!" -> ["don't"])."""
    line = unicodedata.normalize("NFC", line).translate(APOSTROPHES).lower()
    return [w.strip("-") for w in _WORD.findall(line) if w.strip("-'")]


@lru_cache(maxsize=8192)
def sound(word: str) -> WordSound:
    """How one word (as `words` gives it) sounds: its possible syllable counts and rhyming parts."""
    word = word.translate(APOSTROPHES).lower()
    if _HAN.search(word):  # a Chinese word in an English poem: one syllable a character
        return WordSound(word, (len(_HAN.findall(word)),), (word[-1],))
    if _NUMBER.match(word):
        return _phrase(word, spoken_number(word))
    if "'" in word and not _VOWELS.search(word):  # "th'" is elided into the next word ("th' expense")
        return WordSound(word, (0,), ())
    for candidate in dict.fromkeys((word, word.strip("'"), _plain(word), _plain(word).strip("'"))):
        phones = pronouncing.phones_for_word(candidate)
        if phones:
            return WordSound(word, _counts(phones), _rhyming_parts(phones))
    return _derived(word)


def spoken_number(token: str) -> str:
    """A number as it is read aloud. Four-digit whole numbers from 1100 to 2099 are read as years."""
    match = _NUMBER.match(token)
    if match is None:
        return token
    whole, fraction, suffix = match.group(1).replace(",", ""), match.group(2), match.group(3)
    value = int(whole)
    if suffix in ("st", "nd", "rd", "th"):
        return num2words(value, to="ordinal")
    if fraction:
        return num2words(float(f"{value}.{fraction}"))
    if "," not in match.group(1) and len(whole) == 4 and 1100 <= value <= 2099:
        spoken = num2words(value, to="year")
    else:
        spoken = num2words(value)
    if suffix == "s":  # "1920s" -> "nineteen twenties"
        spoken = spoken[:-1] + "ies" if spoken.endswith("y") else spoken + "s"
    return spoken


def line_syllables(line: str) -> tuple[int, int, tuple[str, ...]]:
    """(fewest, most, guessed words): the syllables a line can be read with, and the words estimated."""
    low = high = 0
    guessed: list[str] = []
    for word in words(line):
        s = sound(word)
        low += s.syllables[0]
        high += s.syllables[-1]
        if s.guessed:
            guessed.append(word)
    return low, high, tuple(dict.fromkeys(guessed))


def end_word(line: str) -> str:
    found = words(line)
    return found[-1] if found else ""


def rhyme(a: str, b: str) -> Rhyme:
    """How two words rhyme (see the module's docstring for the kinds)."""
    a, b = a.translate(APOSTROPHES).lower().strip("'"), b.translate(APOSTROPHES).lower().strip("'")
    if not a or not b:
        return Rhyme.NONE
    if a == b:
        return Rhyme.IDENTICAL
    parts_a, parts_b = sound(a).rhymes, sound(b).rhymes
    if set(parts_a) & set(parts_b):
        return Rhyme.PERFECT
    for x in parts_a:
        for y in parts_b:
            if _slant(x, y):
                return Rhyme.SLANT
    return Rhyme.NONE


# --- internals ------------------------------------------------------------------------------------
def _plain(word: str) -> str:
    """Accents off ("naïve" -> "naive"), so the dictionary finds borrowed words."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _counts(phones: list[str]) -> tuple[int, ...]:
    return tuple(sorted({pronouncing.syllable_count(p) for p in phones}))


def _rhyming_parts(phones: list[str]) -> tuple[str, ...]:
    parts = (re.sub(r"\d", "", pronouncing.rhyming_part(p)) for p in phones)
    return tuple(dict.fromkeys(p for p in parts if p))


def _phrase(word: str, text: str) -> WordSound:
    """The sound of several words read as one ("1999" -> "nineteen ninety-nine")."""
    parts = [sound(w) for w in words(text)]
    if not parts:
        return WordSound(word, (0,), ())
    low = sum(p.syllables[0] for p in parts)
    high = sum(p.syllables[-1] for p in parts)
    return WordSound(word, tuple(range(low, high + 1)), parts[-1].rhymes, any(p.guessed for p in parts))


def _derived(word: str) -> WordSound:
    bare = word.strip("'")
    if "-" in bare:
        return _phrase(word, bare.replace("-", " "))
    for clitic in _CLITICS:
        if bare.endswith(clitic) and len(bare) > len(clitic) + 1:
            base = sound(bare[: -len(clitic)])
            return WordSound(word, base.syllables, base.rhymes, base.guessed)
    if bare.endswith("n't") and len(bare) > 4:  # mightn't = might + n't
        base = sound(bare[:-3])
        return WordSound(word, tuple(n + 1 for n in base.syllables), base.rhymes, base.guessed)
    compound = _compound(_plain(bare))
    if compound is not None:
        return WordSound(word, compound.syllables, compound.rhymes, False)
    return _estimate(word, _plain(bare).replace("'", ""))


def _compound(word: str) -> WordSound | None:
    """Two dictionary words written as one, the longest known ending first ("taleweaver")."""
    for cut in range(_MIN_PART, len(word) - _MIN_PART + 1):
        head, tail = word[:cut], word[cut:]
        head_phones, tail_phones = pronouncing.phones_for_word(head), pronouncing.phones_for_word(tail)
        if head_phones and tail_phones:
            low = min(_counts(head_phones)) + min(_counts(tail_phones))
            high = max(_counts(head_phones)) + max(_counts(tail_phones))
            return WordSound(word, tuple(range(low, high + 1)), _rhyming_parts(tail_phones))
    return None


def _estimate(word: str, letters: str) -> WordSound:
    """A word no dictionary knows: the `syllables` estimate, and its spelling from the last vowel on."""
    if not _VOWELS.search(letters):  # "hmm", "grr": one syllable, no rhyme worth claiming
        return WordSound(word, (1,), (), guessed=True)
    count = max(1, syllable_estimator.estimate(letters))
    vowel_groups = list(_VOWELS.finditer(letters))
    ending = letters[vowel_groups[-1].start() :]
    if ending == "e" and len(vowel_groups) > 1:  # a silent final e: "glorpane" rhymes on "ane"
        ending = letters[vowel_groups[-2].start() :]
    return WordSound(word, (count,), ("~" + ending,), guessed=True)


def _slant(x: str, y: str) -> bool:
    """Assonance (same stressed vowel) or consonance (same closing consonants) between rhyming parts."""
    if x.startswith("~") or y.startswith("~"):
        return False  # guessed spellings: only an exact match counts
    px, py = x.split(), y.split()
    if px[0] == py[0] and _vowels(px) == _vowels(py):  # "see"/"people" share a vowel but not a shape
        return True
    coda_x, coda_y = _coda(px), _coda(py)
    return bool(coda_x) and coda_x == coda_y


def _vowels(phonemes: list[str]) -> int:
    return sum(1 for p in phonemes if p[0] in "AEIOU")


def _coda(phonemes: list[str]) -> tuple[str, ...]:
    """The consonants after the last vowel (CMU vowels are the phonemes with a stress digit; the digits
    are already removed here, so vowels are recognized by their first letter)."""
    coda: list[str] = []
    for phoneme in reversed(phonemes):
        if phoneme[0] in "AEIOU":
            break
        coda.append(phoneme)
    return tuple(reversed(coda))
