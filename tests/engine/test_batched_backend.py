"""BatchedBackend: splicing requests into a running batch, and sampling.

A request joining a running batch must decode exactly as it would alone: fp32 and greedy decoding make the
comparison exact, so left padding and cache surgery may not change a single token, whether the newcomer's
prompt is shorter or longer than the running batch's cache. Sampling must draw from exactly the top-k /
top-p distribution a full sort of the vocabulary defines.
"""

from __future__ import annotations

import asyncio

import pytest
import torch

from engine.backends.batched import _CANDIDATES, BatchedBackend, _sample_row
from engine.core import Engine
from engine.protocol import ChatMessage
from engine.sequence import SamplingParams, Sequence

SHORT = "Name three colors."
MEDIUM = "Explain in a few sentences why the sky is blue, and why sunsets are red."
LONG = "Here is the start of a tale: " + "The old lighthouse keeper climbed the stairs again. " * 6 + "Continue it."


@pytest.fixture(scope="module")
async def backend(fp32_engine: Engine):
    backend = BatchedBackend(fp32_engine.loaded, capacity=4)
    backend.start()
    yield backend
    await asyncio.to_thread(backend.stop)


@pytest.fixture(scope="module")
async def alone(backend, fp32_engine: Engine) -> dict[str, list[int]]:
    """What each prompt decodes to when it has the backend to itself (shorter runs are prefixes of these)."""
    results = {}
    for text in (SHORT, MEDIUM, LONG):
        seq = make(fp32_engine, text, 16)
        backend.add(seq)
        results[text], finish = await collect(seq)
        assert finish in {"stop", "length"}
    return results


def make(engine: Engine, text: str, max_tokens: int) -> Sequence:
    ids = engine.render((ChatMessage("user", text),))
    return Sequence(ids, SamplingParams(max_tokens=max_tokens, temperature=0.0), "t", asyncio.get_running_loop())


async def collect(seq: Sequence) -> tuple[list[int], str]:
    tokens: list[int] = []
    async for event in seq.events():
        tokens.extend(event.token_ids)
        if event.finish:
            return tokens, event.finish
    raise AssertionError("no finish event")


async def wait_tokens(seq: Sequence, count: int) -> None:
    async with asyncio.timeout(120):
        while seq.generated < count:
            await asyncio.sleep(0.005)


@pytest.mark.parametrize(
    ("newcomer", "running"),
    [(SHORT, [LONG, MEDIUM]), (LONG, [SHORT, MEDIUM])],
    ids=["shorter-than-the-batch", "longer-than-the-batch"],
)
async def test_spliced_request_decodes_as_it_would_alone(
    backend, alone, fp32_engine, newcomer: str, running: list[str]
):
    olds = [make(fp32_engine, text, 16) for text in running]
    for seq in olds:
        backend.add(seq)
    old_results = [asyncio.create_task(collect(seq)) for seq in olds]
    await wait_tokens(olds[0], 3)  # the batch is decoding
    new = make(fp32_engine, newcomer, 8)
    backend.add(new)
    tokens, _ = await collect(new)

    assert not all(task.done() for task in old_results)  # it really joined a running batch
    assert tokens == alone[newcomer][:8]
    for task, text in zip(old_results, running, strict=True):
        assert (await task)[0] == alone[text]  # and the rows already there were not disturbed


async def test_rows_leaving_and_aborted_rows_do_not_disturb_the_rest(backend, alone, fp32_engine):
    keeper = make(fp32_engine, MEDIUM, 12)
    quick = make(fp32_engine, LONG, 3)  # finishes early and is cut out of the batch
    doomed = make(fp32_engine, SHORT, 200)
    for seq in (doomed, keeper, quick):
        backend.add(seq)
    await wait_tokens(doomed, 3)
    backend.abort(doomed)
    tokens, _ = await collect(keeper)
    assert tokens == alone[MEDIUM][:12]
    assert (await collect(quick))[1] == "length"
    assert doomed.generated < 200


async def test_length_finish_carries_the_last_token(backend, fp32_engine):
    seq = make(fp32_engine, LONG, 5)
    backend.add(seq)
    tokens, finish = await collect(seq)
    assert finish == "length" and len(tokens) == 5 == seq.generated


# --- sampling ------------------------------------------------------------------------------------------
def reference(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """The textbook definition: sort everything, cut at top-k and top-p, renormalise."""
    probs = (logits / params.temperature).softmax(dim=-1)
    values, order = probs.sort(descending=True)
    keep = torch.ones_like(values, dtype=torch.bool)
    if params.top_k:
        keep[params.top_k :] = False
    keep &= values.cumsum(dim=-1) - values <= params.top_p
    out = torch.zeros_like(probs)
    out[order[keep]] = values[keep]
    return out / out.sum()


def draw(logits: torch.Tensor, params: SamplingParams, count: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    picks = torch.tensor([_sample_row(logits, params, generator) for _ in range(count)])
    return torch.bincount(picks, minlength=logits.shape[-1]).float() / count


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(max_tokens=1, temperature=1.0),
        SamplingParams(max_tokens=1, temperature=0.7, top_p=0.8),
        SamplingParams(max_tokens=1, temperature=1.3, top_k=4),
        SamplingParams(max_tokens=1, temperature=1.0, top_k=5, top_p=0.6),
    ],
    ids=["plain", "top-p", "top-k", "both"],
)
def test_sampling_matches_the_reference_distribution(params: SamplingParams) -> None:
    logits = torch.tensor([2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -3.0])
    wanted = reference(logits, params)
    seen = draw(logits, params, 4000)
    assert (seen[wanted == 0] == 0).all()  # nothing outside the cut
    assert torch.allclose(seen, wanted, atol=0.03), (seen, wanted)


def test_a_wide_nucleus_reaches_beyond_the_candidates() -> None:
    logits = -torch.arange(2000, dtype=torch.float32) * 1e-4  # nearly flat, strictly ordered
    params = SamplingParams(max_tokens=1, top_p=0.5)
    nucleus = int((reference(logits, params) > 0).sum())
    assert nucleus > 2 * _CANDIDATES
    seen = draw(logits, params, 3000)
    picked = seen.nonzero().flatten()
    assert picked.max() < nucleus  # never outside the nucleus
    assert picked.max() >= _CANDIDATES  # but beyond the candidates the fast path looks at first


def test_degenerate_cuts_are_greedy_and_seeds_repeat() -> None:
    logits = torch.randn(49152, generator=torch.Generator().manual_seed(1))
    best = int(logits.argmax())
    generator = torch.Generator().manual_seed(3)
    assert {_sample_row(logits, SamplingParams(max_tokens=1, top_k=1), generator) for _ in range(20)} == {best}
    assert {_sample_row(logits, SamplingParams(max_tokens=1, top_p=1e-9), generator) for _ in range(20)} == {best}
    plain = SamplingParams(max_tokens=1, temperature=1.0)
    assert draw(logits, plain, 50, seed=9).tolist() == draw(logits, plain, 50, seed=9).tolist()
