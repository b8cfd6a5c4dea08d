"""Repetition control: presence, frequency and repetition penalties, per request, in both backends.

The arithmetic is checked against transformers' own `RepetitionPenaltyLogitsProcessor` and OpenAI's
formula; the continuous backend's device-side slots against that arithmetic, step by step; and both
backends end to end with greedy decoding (deterministic), where the penalties must change the text and
measurably reduce repeated 4-grams over several prompts, without touching requests that ask for none.
"""

from __future__ import annotations

import asyncio

import pytest
import torch

from engine.core import Engine
from engine.penalties import SlotPenalties, penalize
from engine.protocol import parse_chat_request
from engine.sequence import SamplingParams
from tests.engine.helpers import chat, post

PROMPTS = [
    "Write a very long story about a dragon, at least 2000 words.",
    "List as many fruits as you can.",
    "Write a poem about the moon that repeats its best line.",
]


# --- the arithmetic ------------------------------------------------------------------------------------
def test_repetition_penalty_matches_transformers() -> None:
    from transformers import RepetitionPenaltyLogitsProcessor

    torch.manual_seed(0)
    logits = torch.randn(2, 50)
    history = torch.tensor([[3, 7, 7, 11], [0, 49, 3, 3]])  # prompt and output tokens together
    expected = RepetitionPenaltyLogitsProcessor(penalty=1.3)(history, logits.clone())
    seen = torch.zeros(2, 50, dtype=torch.bool).scatter(1, history, True)
    got = penalize(logits, torch.zeros(2, 50), seen, torch.tensor([1.3, 1.3]), torch.zeros(2), torch.zeros(2))
    assert torch.allclose(got, expected)


def test_frequency_and_presence_follow_openai() -> None:
    logits = torch.tensor([[1.0, 2.0, -1.0, 0.5]])
    counts = torch.tensor([[0.0, 3.0, 1.0, 0.0]])
    got = penalize(
        logits, counts, torch.zeros(1, 4, dtype=torch.bool), torch.ones(1), torch.tensor([0.5]), torch.tensor([0.2])
    )
    expected = logits - 0.5 * counts - 0.2 * (counts > 0).float()
    assert torch.equal(got, expected)
    neutral = penalize(logits, counts, counts > 0, torch.ones(1), torch.zeros(1), torch.zeros(1))
    assert torch.equal(neutral, logits)  # neutral values leave the logits exactly as they were


def test_slots_count_each_requests_own_output_and_leave_others_alone() -> None:
    """Drive SlotPenalties as the batching step does: prepare on the host, apply with the step's input ids."""
    vocab = 20
    slots = SlotPenalties(vocab, slots=2, device=torch.device("cpu"))
    params = SamplingParams(max_tokens=8, frequency_penalty=1.0, repetition_penalty=2.0)
    slots.register("a", params, prompt_ids=[4, 5])
    arg = torch.empty(16, dtype=torch.int32)
    logits = torch.ones(2, vocab)

    slots.prepare(["a", "plain"], arg)  # first step: the input is the prompt's last token, not counted
    first = slots.apply(torch.tensor([5, 9]), logits, arg)
    assert torch.equal(first[1], logits[1])  # the request without penalties is untouched
    assert first[0, 4] == first[0, 5] == 0.5 and first[0, 6] == 1.0  # prompt tokens: divided by 2

    slots.prepare(["a", "plain"], arg)  # "a" produced 6 last step: it is this step's input
    second = slots.apply(torch.tensor([6, 6]), logits, arg)
    assert second[0, 6] == 1.0 / 2 - 1.0  # repeated once: divided by 2, then minus 1 * count
    assert torch.equal(second[1], logits[1])

    slots.forget("a")
    for _ in range(5):  # a slot nobody steps is reclaimed; a new request starts from nothing
        slots.prepare(["plain"], arg)
    slots.register("b", SamplingParams(max_tokens=8, presence_penalty=1.0), prompt_ids=[1])
    slots.prepare(["b"], arg)
    fresh = slots.apply(torch.tensor([1]), logits[:1], arg)
    assert torch.equal(fresh[0], logits[0])  # presence counts the output only, and "b" has none yet


# --- end to end, both backends --------------------------------------------------------------------------
@pytest.fixture(params=["batched", "continuous"])
def local(request: pytest.FixtureRequest, fp32_engine: Engine) -> Engine:
    """An in-process engine (fp32) with each backend."""
    return fp32_engine if request.param == "batched" else request.getfixturevalue("continuous_engine")


async def greedy(engine: Engine, prompt: str, max_tokens: int = 32, **penalties: float) -> list[int]:
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0}
    request = parse_chat_request({**body, **penalties}, 4096)
    generation = engine.submit(engine.prepare(request), 1, "t")
    tokens: list[int] = []
    async for event in generation.seqs[0].events():
        tokens.extend(event.token_ids)
    generation.close()
    return tokens


def repeated_ngram_rate(tokens: list[int], n: int = 4) -> float:
    """The share of the output's n-grams that already occurred earlier in it."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


async def test_penalties_change_greedy_output_and_reduce_repetition(local: Engine) -> None:
    """Each prompt greedily without penalties, with a frequency penalty and with a repetition penalty,
    all in one batch (a row's neighbours do not change its greedy decode: test_batched_backend)."""
    kinds = [{}, {"frequency_penalty": 1.0}, {"repetition_penalty": 1.5}]
    runs = await asyncio.gather(*(greedy(local, p, **kind) for kind in kinds for p in PROMPTS))
    plain, frequency, repetition = (runs[i : i + len(PROMPTS)] for i in range(0, len(runs), len(PROMPTS)))
    assert await greedy(local, PROMPTS[0]) == plain[0]  # greedy decoding is deterministic
    before = mean_rate(plain)
    assert before > 0.05, before  # these prompts do make this model repeat itself
    for penalised in (frequency, repetition):
        assert sum(a != b for a, b in zip(plain, penalised, strict=True)) >= len(PROMPTS) // 2
        assert mean_rate(penalised) < before * 0.8, (before, mean_rate(penalised))


def mean_rate(outputs: list[list[int]]) -> float:
    return sum(map(repeated_ngram_rate, outputs)) / len(outputs)


async def test_penalties_are_per_request_within_one_batch(local: Engine) -> None:
    alone = await greedy(local, PROMPTS[0], max_tokens=24)
    together = await asyncio.gather(
        greedy(local, PROMPTS[0], max_tokens=24),
        greedy(local, PROMPTS[0], max_tokens=24, frequency_penalty=2.0, repetition_penalty=2.0),
        greedy(local, PROMPTS[1], max_tokens=24, presence_penalty=2.0),
    )
    assert together[0] == alone  # its neighbours' penalties do not leak into it
    assert together[1] != alone


async def test_penalties_over_http(engine, http) -> None:  # the session engine process, batched backend
    body = chat(PROMPTS[0], temperature=0, max_tokens=32)
    plain = await post(http, engine, body)
    penalised = await post(http, engine, {**body, "frequency_penalty": 1.2, "repetition_penalty": 1.3})
    assert plain.status == penalised.status == 200, penalised.text
    text = [r.json()["choices"][0]["message"]["content"] for r in (plain, penalised)]
    assert text[0] != text[1]
