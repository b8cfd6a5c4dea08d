"""Perplexity of given texts under the served model, measured in-process.

Why in-process: the engine's API (OpenAI chat completions) returns no log-probabilities of a given
text, and the engine is being extended in parallel, so this tool loads the same model the same way the
engine does (`engine.loading.load_model` with the same ENGINE_* settings, adapter included) and scores
the texts itself. A `/v1/completions` with `echo` and `logprobs` in the engine would let it measure any
served model over HTTP instead; until then, perplexity describes the locally configured model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.config import EngineConfig
from engine.loading import LoadedModel, load_model


@dataclass(frozen=True)
class Perplexity:
    model: str  # the model's name, with "+adapter" when one is applied
    method: str  # "in-process"
    values: tuple[float, ...]  # one per text, in order
    tokens: tuple[int, ...]

    @property
    def mean(self) -> float | None:
        """Token-weighted: exp of the mean negative log-likelihood over all scored tokens."""
        scored = [(math.log(v), t - 1) for v, t in zip(self.values, self.tokens, strict=True) if t > 1]
        total = sum(n for _, n in scored)
        return round(math.exp(sum(log * n for log, n in scored) / total), 4) if total else None


def load(adapter: str | None = None) -> LoadedModel:
    """The model `python -m engine` would serve with the current ENGINE_* settings (blocking)."""
    config = EngineConfig.from_env(adapter=adapter) if adapter else EngineConfig.from_env()
    return load_model(config)


def measure(loaded: LoadedModel, texts: Sequence[str], adapter: str | None = None) -> Perplexity:
    """exp(mean negative log-likelihood per predicted token) of each text, as plain text (no chat template)."""
    import torch

    values, counts = [], []
    for text in texts:
        ids = loaded.tokenizer(text, return_tensors="pt").input_ids[:, : loaded.context_length].to(loaded.device)
        if ids.shape[1] < 2:
            values.append(float("nan"))
            counts.append(int(ids.shape[1]))
            continue
        with torch.no_grad():
            loss = loaded.model(input_ids=ids, labels=ids).loss
        values.append(round(math.exp(float(loss)), 4))
        counts.append(int(ids.shape[1]))
    name = loaded.name + (f"+{adapter}" if adapter else "")
    return Perplexity(name, "in-process", tuple(values), tuple(counts))
