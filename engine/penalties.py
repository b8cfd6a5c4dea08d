"""Repetition control per request: OpenAI's presence and frequency penalties and Hugging Face's
repetition penalty, with the semantics vLLM uses.

- `repetition_penalty` r > 0 (1 = off): every token already in the prompt or the output has its logit
  divided by r when positive and multiplied by r when negative (Hugging Face's `RepetitionPenaltyLogitsProcessor`).
- `frequency_penalty` f and `presence_penalty` p in [-2, 2] (0 = off): a token that occurred c times in
  the output so far loses f * c + p * (c > 0) (OpenAI's definition; the prompt does not count).

Both apply to the logits before temperature, top-k and top-p, so they steer greedy decoding too.
`penalize` is the one definition; the batched backend calls it per row, and `SlotPenalties` feeds it
from per-request state kept on the device for transformers' continuous batching.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import torch

from engine.sequence import SamplingParams

_STALE_STEPS = 4  # a slot not stepped for this many batches belongs to a request that ended or was cancelled


def penalize(
    logits: torch.Tensor,
    counts: torch.Tensor,
    seen: torch.Tensor,
    repetition: torch.Tensor,
    frequency: torch.Tensor,
    presence: torch.Tensor,
) -> torch.Tensor:
    """logits, counts (occurrences in the output) [B, V] float; seen (prompt tokens) [B, V] bool; the
    three penalties [B]. Neutral values (1, 0, 0) leave a row exactly as it was."""
    present = counts > 0
    rep = repetition[:, None]
    repeated = torch.where(logits > 0, logits / rep, logits * rep)
    logits = torch.where(seen | present, repeated, logits)
    return logits - frequency[:, None] * counts - presence[:, None] * present.to(logits.dtype)


@dataclass
class RowPenalty:
    """One sequence's penalty state for the batched backend: its prompt's tokens and its output's counts."""

    params: SamplingParams
    seen: torch.Tensor  # [V] bool
    counts: torch.Tensor  # [V] float

    @classmethod
    def create(cls, params: SamplingParams, prompt_ids: list[int], vocab: int, device: torch.device) -> RowPenalty:
        seen = torch.zeros(vocab, dtype=torch.bool, device=device)
        seen[torch.tensor(prompt_ids, dtype=torch.long, device=device)] = True
        return cls(params, seen, torch.zeros(vocab, dtype=torch.float32, device=device))

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        p = self.params
        values = torch.tensor(
            [[p.repetition_penalty], [p.frequency_penalty], [p.presence_penalty]], device=logits.device
        )
        return penalize(logits[None], self.counts[None], self.seen[None], *values)[0]

    def add(self, token: int) -> None:
        self.counts[token] += 1


class SlotPenalties:
    """Penalty state for transformers' continuous batching, kept on the model's device.

    Each penalised request gets a slot: a row of `counts`, `seen` and `params`. The per-row int32
    argument of the batching step says which slot a logits row uses (`slot * 2 + 1` once the request has
    had a step before, so its input token is its own last output and is counted on the device; `* 2 + 0`
    on its first step, whose input is the prompt's last token). Rows of other requests use the neutral
    scratch slot. Counting on the device is what keeps this right under CUDA graphs and asynchronous
    batching, where the host does not yet know the token a step feeds in.

    `register`/`forget` run on the event loop; `prepare` on the batching thread; `apply` inside the step.
    """

    def __init__(self, vocab: int, slots: int, device: torch.device) -> None:
        self.vocab, self.scratch, self.device = vocab, slots, device
        self.counts = torch.zeros((slots + 1, vocab), dtype=torch.float32, device=device)
        self.seen = torch.zeros((slots + 1, vocab), dtype=torch.bool, device=device)
        self.params = torch.tensor([[1.0, 0.0, 0.0]] * (slots + 1), device=device)
        self._lock = threading.Lock()
        self._requests: dict[str, tuple[SamplingParams, list[int]]] = {}
        self._slot_of: dict[str, int] = {}
        self._last_step: dict[int, int] = {}
        self._free: deque[int] = deque(range(slots))
        self._step = 0

    def register(self, request_id: str, params: SamplingParams, prompt_ids: list[int]) -> None:
        with self._lock:
            self._requests[request_id] = (params, list(prompt_ids))

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._requests.pop(request_id, None)

    def fill_defaults(self, int32_tensor: torch.Tensor) -> None:
        int32_tensor.fill_(self.scratch * 2)

    def prepare(self, request_ids: list[str], arg_row: torch.Tensor) -> None:
        """Write this step's slot argument for each row that gets a new token (and neutral for the rest)."""
        self._step += 1
        values = torch.full((arg_row.numel(),), self.scratch * 2, dtype=torch.int32)
        with self._lock:
            for row, request_id in enumerate(request_ids):
                spec = self._requests.get(request_id)
                if spec is None:
                    continue
                slot = self._slot_of.get(request_id)
                stepped = slot is not None
                if slot is None:
                    slot = self._assign(request_id, *spec)
                self._last_step[slot] = self._step
                values[row] = slot * 2 + int(stepped)
            self._collect()
        arg_row.copy_(values.to(arg_row.device))

    def apply(self, input_ids: torch.Tensor, scores: torch.Tensor, arg_row: torch.Tensor) -> torch.Tensor:
        rows = scores.size(0)
        packed = arg_row[:rows].long()
        slots, counted = packed // 2, (packed % 2).to(torch.float32)
        tokens = input_ids[:rows].long().clamp(0, self.vocab - 1)
        self.counts.index_put_((slots, tokens), counted, accumulate=True)
        params = self.params.index_select(0, slots)
        return penalize(
            scores,
            self.counts.index_select(0, slots),
            self.seen.index_select(0, slots),
            params[:, 0],
            params[:, 1],
            params[:, 2],
        )

    # --- slots (batching thread, under the lock) ----------------------------------------------------
    def _assign(self, request_id: str, params: SamplingParams, prompt_ids: list[int]) -> int:
        if self._free:
            slot = self._free.popleft()
        else:  # more penalised requests than slots: take the one stepped longest ago
            slot = min(self._last_step, key=self._last_step.__getitem__)
            self._release(slot)
            self._free.remove(slot)
        self._slot_of[request_id] = slot
        self.counts[slot].zero_()
        self.seen[slot].zero_()
        self.seen[slot, torch.tensor(prompt_ids, dtype=torch.long, device=self.device)] = True
        p = params
        self.params[slot] = torch.tensor([p.repetition_penalty, p.frequency_penalty, p.presence_penalty])
        if self.device.type == "cuda":  # the step runs on its own stream: the slot must be ready first
            torch.cuda.current_stream(self.device).synchronize()
        return slot

    def _collect(self) -> None:
        for slot, step in list(self._last_step.items()):
            if self._step - step >= _STALE_STEPS:
                self._release(slot)

    def _release(self, slot: int) -> None:
        self._last_step.pop(slot, None)
        for request_id, owned in list(self._slot_of.items()):
            if owned == slot:
                del self._slot_of[request_id]
        self._free.append(slot)
