"""Incremental detokenizing and stop strings, against the real tokenizer and adversarial chunkings."""

from __future__ import annotations

import random

import pytest

from engine.textstream import IncrementalDetokenizer, StopMatcher

TEXTS = [
    "Hello, world! How are you ?",
    "  leading  spaces\n\n\ttabs and trailing  ",
    "naïve café — 日本語のテキスト, 한국어, العربية, עברית",
    "dragons 🐉🔥 and a family 👩\u200d👩\u200d👧\u200d👦, flags 🇫🇷🇯🇵, skin tones 👋🏽",
    "zero\u200bwidth\u200cjoiners\u200d and e\u0301 combining, \u202eright-to-left\u202c",
    "math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫√ and 😀😁😂 in a row",
]


def stream(tokenizer, ids: list[int], sizes: list[int]) -> tuple[list[str], str]:
    detok = IncrementalDetokenizer(tokenizer)
    pieces, i = [], 0
    for size in sizes:
        pieces.append(detok.push(ids[i : i + size]))
        i += size
    pieces.append(detok.push(ids[i:]))
    return pieces, "".join(pieces) + detok.flush()


@pytest.mark.parametrize("text", TEXTS)
def test_token_by_token_equals_the_full_decode(tokenizer, text: str) -> None:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    pieces, joined = stream(tokenizer, ids, [1] * len(ids))
    assert joined == text
    # Valid text never shows a replacement character mid-stream: incomplete bytes are held back.
    assert not any("\ufffd" in p for p in pieces)


def test_random_chunkings_equal_the_full_decode(tokenizer) -> None:
    rng = random.Random(7)
    for text in TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for _ in range(20):
            sizes = [rng.randint(0, 4) for _ in range(len(ids))]
            assert stream(tokenizer, ids, sizes)[1] == text


def test_random_token_ids_equal_the_full_decode(tokenizer) -> None:
    """Even arbitrary ids (broken UTF-8 included) come out as the one-shot decode would have them."""
    rng = random.Random(11)
    for _ in range(200):
        ids = [rng.randrange(len(tokenizer)) for _ in range(rng.randint(1, 30))]
        sizes = [rng.randint(1, 3) for _ in range(len(ids))]
        assert stream(tokenizer, ids, sizes)[1] == tokenizer.decode(ids, skip_special_tokens=True)


def test_an_emoji_split_across_tokens_waits_for_its_last_byte(tokenizer) -> None:
    ids = tokenizer("ok 🐉", add_special_tokens=False)["input_ids"]
    assert len(ids) >= 3  # the dragon is several byte-level tokens
    detok = IncrementalDetokenizer(tokenizer)
    pieces = [detok.push([i]) for i in ids]
    assert pieces[0] == "ok"
    assert pieces[1:-1] == [""] * (len(ids) - 2)
    assert pieces[-1] == " 🐉"
    assert detok.flush() == ""


def test_flush_releases_an_unfinished_character(tokenizer) -> None:
    ids = tokenizer("a🐉", add_special_tokens=False)["input_ids"]
    detok = IncrementalDetokenizer(tokenizer)
    assert [detok.push([i]) for i in ids[:-1]] == ["a"] + [""] * (len(ids) - 2)
    rest = detok.flush()  # whatever the incomplete bytes decode to, rather than nothing
    assert rest and rest == tokenizer.decode(ids[:-1])[1:]
    assert detok.push([]) == "" and detok.flush() == ""


def test_word_initial_spaces_survive(tokenizer) -> None:
    ids = tokenizer("Once upon a time", add_special_tokens=False)["input_ids"]
    detok = IncrementalDetokenizer(tokenizer)
    assert [detok.push([i]) for i in ids] == ["Once", " upon", " a", " time"]


def test_skipped_ids_and_special_tokens_are_not_text(tokenizer) -> None:
    ids = tokenizer("The end.", add_special_tokens=False)["input_ids"]
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    detok = IncrementalDetokenizer(tokenizer, frozenset({eos}))
    assert detok.push([*ids, eos]) + detok.flush() == "The end."
    start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    detok = IncrementalDetokenizer(tokenizer)
    assert detok.push([start, *ids]) + detok.flush() == "The end."


# --- StopMatcher -----------------------------------------------------------------------------------------
def feed_all(stops: tuple[str, ...], chunks: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = "".join(matcher.feed(c) for c in chunks)
    return out + matcher.flush(), matcher.stopped


def test_without_stops_text_passes_through() -> None:
    matcher = StopMatcher(())
    assert matcher.feed("abc") == "abc" and matcher.feed("") == "" and matcher.flush() == ""
    assert not matcher.stopped


def test_stop_inside_one_chunk_cuts_there_and_ends_the_text() -> None:
    matcher = StopMatcher(("STOP",))
    assert matcher.feed("hello STOP world") == "hello "
    assert matcher.stopped
    assert matcher.feed("more") == "" and matcher.flush() == ""


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_stop_across_chunk_boundaries(size: int) -> None:
    text = "abcSTOPdef"
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    assert feed_all(("STOP",), chunks) == ("abc", True)


def test_a_partial_match_is_held_back_then_released() -> None:
    matcher = StopMatcher(("STOP",))
    assert matcher.feed("abcST") == "abc"
    assert matcher.feed("AY") == "STAY"
    assert matcher.feed("ST") == ""
    assert matcher.flush() == "ST"
    assert not matcher.stopped


def test_the_earliest_of_several_stops_wins() -> None:
    assert feed_all(("world", "lo w"), ["hello world"]) == ("hel", True)
    assert feed_all(("\n\n", "THE END"), ["a\n", "b THE", " END\n\n"]) == ("a\nb ", True)


def test_overlapping_prefixes() -> None:
    assert feed_all(("aab",), ["a", "a", "a", "b", "c"]) == ("a", True)
    assert feed_all(("abab",), ["ab", "ab", "ab"]) == ("", True)
    assert feed_all(("abc", "bcd"), ["ab", "cd"]) == ("", True)


def test_emoji_and_empty_stops() -> None:
    assert feed_all(("🐉", ""), ["fire ", "🐉 breath"]) == ("fire ", True)


def test_random_text_and_chunkings_cut_at_the_first_stop() -> None:
    rng = random.Random(3)
    for _ in range(500):
        text = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 30)))
        stops = tuple("".join(rng.choice("abc") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3)))
        cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
        expected = (text[: min(cuts)], True) if cuts else (text, False)
        chunks, i = [], 0
        while i < len(text):
            step = rng.randint(1, 5)
            chunks.append(text[i : i + step])
            i += step
        assert feed_all(stops, chunks) == expected, (text, stops, chunks)
