"""Text-quality metrics for the evaluation tool: diversity, repetition, overlap with references.

Tokens are lower-cased words, and each Han character on its own (Chinese has no spaces), so the same
functions serve English and Chinese. Formulas, from the papers that named them:
- distinct-n (Li et al., 2016): distinct n-grams / all n-grams, over a set of texts;
- repetition rate, "seq-rep-n" (Welleck et al., 2019): 1 - distinct n-grams / all n-grams, within one text;
- self-BLEU (Zhu et al., 2018, Texygen): each sample's BLEU against the other samples, averaged (sacrebleu);
- BLEU (sacrebleu's corpus BLEU) and ROUGE-L F1 (rouge-score) against given references.
BLEU values keep sacrebleu's 0–100 scale; everything else is 0–1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sacrebleu
from rouge_score import rouge_scorer

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
REPETITION_N = 4


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngrams(items: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(items[i : i + n]) for i in range(len(items) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams, across the texts (0.0 when there are none)."""
    grams = [g for text in texts for g in ngrams(tokens(text), n)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def repetition_rate(text: str, n: int = REPETITION_N) -> float | None:
    """The share of a text's n-grams that repeat an earlier one; None for a text shorter than n tokens."""
    grams = ngrams(tokens(text), n)
    return round(1 - len(set(grams)) / len(grams), 4) if grams else None


def bleu_tokenizer(texts: Sequence[str]) -> str:
    """sacrebleu's tokenizer for the texts: "zh" when any has Han characters, else the standard "13a"."""
    return "zh" if any(_HAN.search(t) for t in texts) else "13a"


def self_bleu(texts: Sequence[str]) -> float | None:
    """Mean BLEU of each text against all the others (higher: the samples are more alike). None below two."""
    texts = [t for t in texts if t.strip()]
    if len(texts) < 2:
        return None
    tokenize = bleu_tokenizer(texts)
    scores = [
        sacrebleu.sentence_bleu(text, texts[:i] + texts[i + 1 :], tokenize=tokenize).score
        for i, text in enumerate(texts)
    ]
    return round(sum(scores) / len(scores), 4)


def bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float | None:
    """Corpus BLEU of the hypotheses, each against its own references (any number, at least one)."""
    pairs = [(h, list(r)) for h, r in zip(hypotheses, references, strict=True) if r]
    if not pairs:
        return None
    width = max(len(r) for _, r in pairs)
    # sacrebleu reads references as parallel streams; repeating a reference leaves BLEU unchanged
    # (n-gram counts are clipped by the maximum over references), so shorter lists are padded with their own.
    streams = [[r[i] if i < len(r) else r[0] for _, r in pairs] for i in range(width)]
    hyps = [h for h, _ in pairs]
    return round(sacrebleu.corpus_bleu(hyps, streams, tokenize=bleu_tokenizer(hyps + streams[0])).score, 4)


class _Tokenizer:
    """rouge-score's own tokenizer drops everything but ASCII letters and digits, so Chinese would vanish."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


_ROUGE = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Tokenizer())


def rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float | None:
    """Mean ROUGE-L F1, each hypothesis scored against its best reference."""
    scores = [
        max(_ROUGE.score(ref, hyp)["rougeL"].fmeasure for ref in refs)
        for hyp, refs in zip(hypotheses, references, strict=True)
        if refs
    ]
    return round(sum(scores) / len(scores), 4) if scores else None


def mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None
