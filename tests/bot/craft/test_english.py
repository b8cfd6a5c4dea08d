"""bot.craft.english: syllables and rhymes from the CMU dictionary, and the cases it does not cover."""

from __future__ import annotations

import pytest

from bot.craft.english import end_word, line_syllables, rhyme, sound, spoken_number, words
from bot.craft.result import Rhyme


@pytest.mark.parametrize(
    ("word", "counts"),
    [
        ("moon", (1,)),
        ("lantern", (2,)),
        ("every", (2, 3)),  # the dictionary knows both readings: a line may use either
        ("fire", (1, 2)),
        ("naïve", (2,)),  # accents off for the lookup
    ],
)
def test_dictionary_words(word: str, counts: tuple[int, ...]) -> None:
    assert sound(word).syllables == counts
    assert not sound(word).guessed


@pytest.mark.parametrize(
    ("word", "count"),
    [
        ("don't", 1),
        ("i'll", 1),
        ("'tis", 1),
        ("ne'er", 1),
        ("moon's", 1),  # possessive: the clitic is dropped, the base is in the dictionary
        ("mightn't", 2),  # might + n't
        ("wouldn't", 2),
        ("th'", 0),  # elided into the next word
    ],
)
def test_contractions(word: str, count: int) -> None:
    assert sound(word).syllables == (count,)
    assert not sound(word).guessed


def test_an_archaic_contraction_missing_from_the_dictionary_is_estimated_and_marked() -> None:
    oer = sound("o'er")
    assert oer.syllables == (1,)
    assert oer.guessed


@pytest.mark.parametrize(
    ("token", "spoken", "count"),
    [
        ("3", "three", 1),
        ("1999", "nineteen ninety-nine", 5),  # four digits from 1100 to 2099: a year
        ("2024", "twenty twenty-four", 5),
        ("100", "one hundred", 3),
        ("2,000", "two thousand", 3),  # a comma: a quantity, not a year
        ("3rd", "third", 1),
        ("3.5", "three point five", 3),
        ("1920s", "nineteen twenties", 4),
    ],
)
def test_numbers_are_read_aloud(token: str, spoken: str, count: int) -> None:
    assert spoken_number(token) == spoken
    assert sound(token).syllables == (count,)


def test_hyphenated_words_count_their_parts() -> None:
    assert sound("well-known").syllables == (2,)
    assert sound("moon-bright").syllables == (2,)  # not in the dictionary as one word
    assert sound("moon-bright").rhymes == sound("bright").rhymes


def test_compounds_of_known_words_are_not_guessed() -> None:
    taleweaver = sound("taleweaver")
    assert taleweaver.syllables == (3,)
    assert not taleweaver.guessed
    assert rhyme("taleweaver", "believer") == Rhyme.PERFECT


def test_unknown_words_fall_back_to_an_estimate_and_are_reported() -> None:
    glorp = sound("glorptastic")
    assert glorp.syllables == (3,)
    assert glorp.guessed
    low, high, guessed = line_syllables("the glorptastic moon")
    assert (low, high) == (5, 5)
    assert guessed == ("glorptastic",)


def test_punctuation_and_emoji_are_not_words() -> None:
    assert words("Moon 🌙, moon!!! — 🌊 “Don’t” ‘tis…") == ["moon", "moon", "don't", "'tis"]
    assert line_syllables("🌙🌊 ✨ — !!! ...") == (0, 0, ())
    assert line_syllables("*Moon* on the 🌊 water!") == (5, 5, ())
    assert end_word("the sea, the sea! 🌊🌊") == "sea"


def test_a_line_can_be_read_with_a_range_of_syllables() -> None:
    assert line_syllables("every fire") == (3, 5, ())


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("moon", "June", Rhyme.PERFECT),
        ("day", "May", Rhyme.PERFECT),
        ("1999", "wine", Rhyme.PERFECT),  # a number rhymes as it is spoken
        ("night", "time", Rhyme.SLANT),  # assonance
        ("shape", "keep", Rhyme.SLANT),  # consonance
        ("love", "move", Rhyme.SLANT),  # an eye rhyme is only a slant rhyme to the ear
        ("cat", "dog", Rhyme.NONE),
        ("see", "people", Rhyme.NONE),  # the same vowel, but one syllable against two
        ("window", "sky", Rhyme.NONE),
        ("love", "Love", Rhyme.IDENTICAL),
        ("glorptastic", "snorptastic", Rhyme.PERFECT),  # unknown words: the same spelled ending
        ("glorp", "moon", Rhyme.NONE),
        ("", "moon", Rhyme.NONE),
    ],
)
def test_rhymes(a: str, b: str, kind: Rhyme) -> None:
    assert rhyme(a, b) == kind
    assert rhyme(b, a) == kind
