"""Step-wise batched decoding in a worker thread: the CPU backend.

All running sequences share one left-padded KV cache and advance one token per forward pass. A request
that arrives while others are decoding does not wait for them to finish: it is prefilled on its own and
its cache is spliced into the running batch (both are left-padded to a common length), so its first
token comes after one prefill instead of after the whole batch. Finished and aborted rows are cut out
of the cache between steps.

With named LoRA adapters (ENGINE_ADAPTERS) requests for different adapters share the batch: every
forward pass names each row's adapter (peft's `adapter_names`), so a row runs the base weights plus its
own adapter only.

Plain `model(...)` forward passes keep this backend independent of any one attention kernel; it needs
a model whose cache is transformers' `DynamicCache` of full-attention layers to splice requests in, and
falls back to starting new requests once the batch drains otherwise.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from dataclasses import dataclass

import torch

from engine.backends.base import Backend
from engine.loading import LoadedModel
from engine.penalties import RowPenalty
from engine.sequence import SamplingParams, Sequence

log = logging.getLogger(__name__)

_CANDIDATES = 256  # tokens top-p sampling examines before it falls back to sorting the whole vocabulary


@dataclass(eq=False)
class _Row:
    seq: Sequence
    generator: torch.Generator
    penalty: RowPenalty | None = None
    produced: int = 0


class BatchedBackend(Backend):
    name = "batched"

    def __init__(self, loaded: LoadedModel, capacity: int) -> None:
        super().__init__(loaded, capacity)
        self._model = loaded.model
        self._device = torch.device(loaded.device)
        tokenizer = loaded.tokenizer
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else loaded.eos_token_ids[0]
        self._eos = frozenset(loaded.eos_token_ids)
        self._lock = threading.Lock()  # guards _pending and _aborted, shared with the event loop
        self._pending: deque[Sequence] = deque()
        self._aborted: set[str] = set()
        self._wake = threading.Event()
        self._stopping = False
        self._rows: list[_Row] = []
        self._cache = None
        self._mask: torch.Tensor | None = None  # [B, T] 1 for real tokens, 0 for left padding
        self._last: torch.Tensor | None = None  # [B] the token each row feeds next
        self._thread = threading.Thread(target=self._run, name="engine-batched", daemon=True)

    # --- called on the event loop -------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def add(self, seq: Sequence) -> None:
        with self._lock:
            self._pending.append(seq)
        self._wake.set()

    def abort(self, seq: Sequence) -> None:
        with self._lock:
            if seq in self._pending:
                self._pending.remove(seq)
                return
            self._aborted.add(seq.id)
        self._wake.set()

    @property
    def live(self) -> int:
        with self._lock:
            pending = len(self._pending)
        return pending + len(self._rows)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    # --- the worker thread --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with torch.inference_mode():
                while not self._stopping:
                    if not self._rows and not self._pending:
                        self._wake.wait(timeout=0.5)
                        self._wake.clear()
                        continue
                    self._step()
        except BaseException as exc:  # the worker is gone: say so to everyone waiting, then the engine dies
            log.exception("batched backend worker died")
            self.fatal_error = f"{type(exc).__name__}: {exc}"
            self._fail_everything(self.fatal_error)

    def _step(self) -> None:
        self._drop_aborted()
        new = self._take_new()
        try:
            if new:
                self._admit(new)
            elif self._rows:
                self._decode()
        except (RuntimeError, ValueError, IndexError) as exc:  # this batch failed; the backend lives on
            log.exception("generation step failed")
            self._fail_rows(f"generation failed: {type(exc).__name__}: {exc}")

    def _take_new(self) -> list[_Row]:
        can_splice = self._cache is None or _spliceable(self._cache)
        room = self.capacity - len(self._rows) if can_splice else 0
        rows: list[_Row] = []
        with self._lock:
            while room > 0 and self._pending:
                seq = self._pending.popleft()
                seed = seq.params.seed if seq.params.seed is not None else random.getrandbits(63)
                rows.append(_Row(seq, torch.Generator().manual_seed(seed), self._penalty(seq)))
                room -= 1
        return rows

    def _penalty(self, seq: Sequence) -> RowPenalty | None:
        if not seq.params.penalized:
            return None
        vocab = int(self._model.get_output_embeddings().weight.shape[0])
        return RowPenalty.create(seq.params, seq.prompt_ids, vocab, self._device)

    def _admit(self, rows: list[_Row]) -> None:
        """Prefill new rows together, sample their first token and splice them into the batch."""
        width = max(len(r.seq.prompt_ids) for r in rows)
        ids = torch.full((len(rows), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            prompt = row.seq.prompt_ids
            ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[i, width - len(prompt) :] = 1
        ids, mask = ids.to(self._device), mask.to(self._device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self._model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **self._adapter_names(rows),
        )
        tokens = self._sample(out.logits[:, -1, :], rows)
        if self._cache is None:
            self._rows, self._cache, self._mask = rows, out.past_key_values, mask
            self._last = tokens
        else:
            self._splice(rows, out.past_key_values, mask, tokens)
        self._deliver(tokens, offset=len(self._rows) - len(rows))

    def _decode(self) -> None:
        assert self._mask is not None and self._last is not None
        mask = torch.cat([self._mask, self._mask.new_ones((self._mask.shape[0], 1))], dim=1)
        positions = mask.sum(dim=1, keepdim=True) - 1
        out = self._model(
            input_ids=self._last[:, None],
            attention_mask=mask,
            position_ids=positions,
            past_key_values=self._cache,
            use_cache=True,
            logits_to_keep=1,
            **self._adapter_names(self._rows),
        )
        self._mask, self._cache = mask, out.past_key_values
        self._last = self._sample(out.logits[:, -1, :], self._rows)
        self._deliver(self._last, offset=0)

    def _deliver(self, tokens: torch.Tensor, offset: int) -> None:
        """Emit the new token of rows `offset`, `offset + 1`, ...; then retire rows that are done."""
        done: list[int] = []
        values = tokens.tolist()
        self.steps.count([row.seq.id for row in self._rows[offset : offset + len(values)]])
        for i, token in enumerate(values, start=offset):
            row = self._rows[i]
            row.produced += 1
            if row.penalty is not None:
                row.penalty.add(token)
            if token in self._eos:
                row.seq.emit((), finish="stop")
                done.append(i)
            elif row.produced >= row.seq.params.max_tokens:
                row.seq.emit((token,), finish="length")
                done.append(i)
            else:
                row.seq.emit((token,))
        if done:
            finished = set(done)
            self._keep([i for i in range(len(self._rows)) if i not in finished])

    def _adapter_names(self, rows: list[_Row]) -> dict[str, list[str]]:
        """With named LoRA adapters, each row runs its own (peft's mixed-adapter batches); "__base__" = none."""
        if not self.loaded.adapters:
            return {}
        return {"adapter_names": [row.seq.params.adapter or "__base__" for row in rows]}

    # --- sampling -----------------------------------------------------------------------------------
    def _sample(self, logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        logits = logits.float()
        for i, row in enumerate(rows):
            if row.penalty is not None:
                logits[i] = row.penalty.apply(logits[i])
        chosen = logits.argmax(dim=-1)
        for i, row in enumerate(rows):
            if not row.seq.params.greedy:
                chosen[i] = _sample_row(logits[i], row.seq.params, row.generator)
        return chosen

    # --- batch surgery ------------------------------------------------------------------------------
    def _splice(self, rows: list[_Row], cache, mask: torch.Tensor, tokens: torch.Tensor) -> None:
        assert self._cache is not None and self._mask is not None and self._last is not None
        width = max(self._mask.shape[1], mask.shape[1])
        for old_layer, new_layer in zip(self._cache.layers, cache.layers, strict=True):
            old_layer.keys = torch.cat([_pad_left(old_layer.keys, width), _pad_left(new_layer.keys, width)])
            old_layer.values = torch.cat([_pad_left(old_layer.values, width), _pad_left(new_layer.values, width)])
        self._mask = torch.cat([_pad_left(self._mask, width, dim=1), _pad_left(mask, width, dim=1)])
        self._last = torch.cat([self._last, tokens])
        self._rows = self._rows + rows

    def _keep(self, indices: list[int]) -> None:
        """Keep only these rows; trim padding columns no remaining row needs."""
        if not indices:
            self._rows, self._cache, self._mask, self._last = [], None, None, None
            return
        assert self._cache is not None and self._mask is not None and self._last is not None
        index = torch.tensor(indices, device=self._mask.device)
        mask = self._mask[index]
        start = int(mask.any(dim=0).nonzero()[0].item())
        for layer in self._cache.layers:
            layer.keys = layer.keys[index, :, start:, :]
            layer.values = layer.values[index, :, start:, :]
        self._mask, self._last = mask[:, start:], self._last[index]
        self._rows = [self._rows[i] for i in indices]

    def _drop_aborted(self) -> None:
        with self._lock:
            aborted, self._aborted = self._aborted, set()
        if aborted:
            keep = [i for i, r in enumerate(self._rows) if r.seq.id not in aborted]
            if len(keep) != len(self._rows):
                self._keep(keep)

    def _fail_rows(self, message: str) -> None:
        for row in self._rows:
            row.seq.emit((), finish="error", error=message)
        self._keep([])

    def _fail_everything(self, message: str) -> None:
        self._fail_rows(message)
        with self._lock:
            pending, self._pending = list(self._pending), deque()
        for seq in pending:
            seq.emit((), finish="error", error=message)


def _sample_row(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """One token from softmax(logits / temperature) cut to top-k and top-p, drawn with the row's generator.

    Sorting the whole vocabulary every step costs more than the forward pass of a small model on a CPU, so
    top-p looks at the most likely `_CANDIDATES` tokens first; only when their mass does not exceed top-p
    can the nucleus reach further, and then it takes all top-k. Either way the distribution is exact.
    """
    full = (logits / params.temperature).softmax(dim=-1)
    vocab = full.shape[-1]
    top_k = params.top_k if 0 < params.top_k < vocab else vocab
    probs, ids = full, None
    if params.top_p < 1:
        probs, ids = full.topk(min(top_k, _CANDIDATES))
        if top_k > len(probs) and probs.sum() <= params.top_p:
            probs, ids = full.topk(top_k)
        probs = probs.masked_fill(probs.cumsum(dim=-1) - probs > params.top_p, 0)  # keeps the most likely
    elif top_k < vocab:
        probs, ids = full.topk(top_k)
    pick = int(torch.multinomial(probs.cpu(), 1, generator=generator))
    return pick if ids is None else int(ids[pick])


def _pad_left(tensor: torch.Tensor, width: int, dim: int = -2) -> torch.Tensor:
    missing = width - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def _spliceable(cache) -> bool:
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)
