"""bot.evaluate.metrics and .narration on fixed texts: exact values."""

from __future__ import annotations

import pytest
import sacrebleu

from bot.evaluate import metrics, narration
from storage.stories import Player


def test_tokens_are_words_and_han_characters() -> None:
    assert metrics.tokens("The cat, the CAT! 月光 🌙 don't") == ["the", "cat", "the", "cat", "月", "光", "don", "t"]


def test_distinct_n() -> None:
    assert metrics.distinct_n(["the cat the cat"], 1) == 0.5
    assert metrics.distinct_n(["the cat the cat"], 2) == 0.6667
    assert metrics.distinct_n(["a b", "a c"], 1) == 0.75  # across texts: "a" twice
    assert metrics.distinct_n(["a b", "a c"], 2) == 1.0  # no bigram spans two texts
    assert metrics.distinct_n(["床前明月", "明月"], 1) == 0.6667
    assert metrics.distinct_n([], 2) == 0.0
    assert metrics.distinct_n(["one"], 2) == 0.0


def test_repetition_rate() -> None:
    assert metrics.repetition_rate("a b c d a b c d") == 0.2  # 5 four-grams, 4 distinct
    assert metrics.repetition_rate("a b c d e f") == 0.0
    assert metrics.repetition_rate("a a a a a a a a", n=1) == 0.875
    assert metrics.repetition_rate("too short") is None


def test_self_bleu() -> None:
    assert metrics.self_bleu(["the cat sat on the mat"] * 3) == 100.0
    assert metrics.self_bleu(["a b c d", "e f g h"]) == 0.0
    assert metrics.self_bleu(["only one"]) is None
    assert metrics.self_bleu(["one", "  "]) is None  # an empty sample is not a sample
    mixed = ["the cat sat on the mat today", "the cat sat on a mat", "a dog ran in the park"]
    expected = sum(sacrebleu.sentence_bleu(t, mixed[:i] + mixed[i + 1 :]).score for i, t in enumerate(mixed)) / len(
        mixed
    )
    assert metrics.self_bleu(mixed) == round(expected, 4)


def test_bleu_against_references() -> None:
    assert metrics.bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]) == 100.0
    assert metrics.bleu(["a b c d"], [["e f g h"]]) == 0.0
    assert metrics.bleu(["x"], [[]]) is None
    hyps = ["the cat sat on the mat", "a dog ran in the park today"]
    # a shorter reference list is padded with its own first reference, which leaves BLEU unchanged
    assert metrics.bleu(hyps, [["the cat is on the mat"], ["a dog runs in a park", "the dog ran in the park"]]) == (
        metrics.bleu(
            hyps,
            [["the cat is on the mat", "the cat is on the mat"], ["a dog runs in a park", "the dog ran in the park"]],
        )
    )
    assert metrics.bleu(["床前明月光"], [["床前明月光"]]) == 100.0  # sacrebleu's zh tokenizer


def test_rouge_l() -> None:
    assert metrics.rouge_l(["the cat sat"], [["the cat sat on the mat"]]) == 0.6667  # P 1, R 0.5
    assert metrics.rouge_l(["床前明月光"], [["床前明月"]]) == 0.8889  # Chinese is not dropped
    assert metrics.rouge_l(["the cat sat"], [["a dog", "the cat sat"]]) == 1.0  # the best reference
    assert metrics.rouge_l(["x"], [[]]) is None


def test_mean_skips_missing_values() -> None:
    assert metrics.mean([1.0, None, 0.0]) == 0.5
    assert metrics.mean([None]) is None


CAST = [Player(1, 1, "Mira", 1, 0.0, None), Player(1, 2, "Tobin", 2, 0.0, None)]


@pytest.mark.parametrize(
    ("text", "speaks"),
    [
        ("The wind howls.\nMira: I run!", True),
        ("The wind howls.\n**Tobin:** I stay.", True),
        ("The wind howls.\n[Mira (player)]: I run.", True),
        ("Mira runs to the wagon. The wind howls.", False),
        ("The guide says: Mira, wait!", False),
    ],
)
def test_speaks_for_player_uses_the_stories_detector(text: str, speaks: bool) -> None:
    assert narration.speaks_for_player(text, ["Mira", "Tobin"]) is speaks


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("I walk into the room and the door closes.", True),
        ("The wind rises. My heart sinks.", True),
        ("The lantern gutters; it reminds me of home.", True),
        ('The guard folds his arms. "I will not let you pass," he says.', False),
        ("The guard folds his arms. “You shall not pass,” he says; “not while I stand.”", False),
        ("The wind rises over the dunes.", False),
        ("我走进了房间。", True),
        ("他说：「我不去。」", False),
        ("我们继续前进。", False),  # "we", not "I"
    ],
)
def test_first_person_outside_quotes(text: str, first: bool) -> None:
    assert narration.first_person(text) is first


def test_copied_run_counts_words_copied_in_a_row() -> None:
    earlier = ["The salt flats glitter under a low red sun.", "Camels snort."]
    assert narration.copied_run("Again the salt flats glitter under a low red sun, and camels snort.", earlier) == 9
    assert narration.copied_run("A storm gathers.", earlier) == 1  # "a"
    assert narration.copied_run("Storms gather.", earlier) == 0
    assert narration.copied_run("anything", []) == 0


def test_unusable_when_nothing_survives_cleaning() -> None:
    assert narration.unusable("Mira: I run to the wagon.", CAST)
    assert narration.unusable("   ", CAST)
    assert not narration.unusable("The wind howls over the salt.", CAST)
