"""What the engine adds to transformers' continuous-batching step, through its logits-processor list.

transformers (5.x) runs its logits processors inside the continuous-batching step, for the rows that get
a new token, with one int32 argument per row per processor filled in `prepare_tensor_args` on the
batching thread. `EngineProcessors` wraps the list that `init_continuous_batching` built:

- it counts the decode steps each request gets (the backend's own counters, `Backend.steps`);
- it applies per-request repetition penalties (see `engine/penalties.py`) before temperature, top-k and
  top-p, with per-request state kept on the device so that CUDA graphs and asynchronous batching see
  every step's tokens (the per-row argument only says which slot of that state the row uses).

It relies on the list's `tensors_required`, `do_processing`, `fill_defaults`, `prepare_tensor_args` and
`__call__(input_ids, scores, args)`, which are the same in transformers 5.17 and 5.24.
"""

from __future__ import annotations

from typing import Any

import torch

from engine.backends.base import StepCounter


def install(manager: Any, steps: StepCounter, penalties: Any | None = None) -> EngineProcessors:
    """Replace the manager's processor list by the engine's wrapper (before `manager.start()`)."""
    wrapped = EngineProcessors.wrap(manager.logit_processor, steps, penalties)
    manager.logit_processor = wrapped
    return wrapped


def _base() -> type:
    from transformers.generation.continuous_batching.cb_logits_processors import (
        ContinuousBatchingLogitsProcessorList,
    )

    return ContinuousBatchingLogitsProcessorList


class EngineProcessors:
    """Built by `wrap`, as a subclass of transformers' `ContinuousBatchingLogitsProcessorList`."""

    steps: StepCounter
    penalties: Any  # a Penalties when own_row >= 0, else None
    own_row: int

    @staticmethod
    def wrap(inner: Any, steps: StepCounter, penalties: Any | None) -> EngineProcessors:
        cls: Any = _wrapper_class()
        wrapped = cls.__new__(cls)
        wrapped.__dict__.update(inner.__dict__)
        wrapped.steps, wrapped.penalties = steps, penalties
        wrapped.own_row = -1
        if penalties is not None:  # one argument row of our own, after the processors' rows
            wrapped.own_row = wrapped.tensors_required
            wrapped.tensors_required += 1
            wrapped.do_processing = True
        return wrapped


_WRAPPER: type | None = None


def _wrapper_class() -> type:
    global _WRAPPER
    if _WRAPPER is None:
        base = _base()

        class _EngineProcessors(base, EngineProcessors):  # type: ignore[misc, valid-type]
            def fill_defaults(self, int32_tensor: torch.Tensor) -> None:
                super().fill_defaults(int32_tensor)
                if self.own_row >= 0:
                    self.penalties.fill_defaults(int32_tensor[self.own_row])

            def prepare_tensor_args(self, requests_in_batch: list[Any], arg_storage: torch.Tensor) -> torch.Tensor:
                out = super().prepare_tensor_args(requests_in_batch, arg_storage)
                ids = [r.state.request_id for r in requests_in_batch if r.has_new_token]
                self.steps.count(ids)
                if self.own_row >= 0:
                    self.penalties.prepare(ids, arg_storage[self.own_row])
                return out

            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, args: torch.Tensor) -> torch.Tensor:
                if self.own_row >= 0:
                    scores = self.penalties.apply(input_ids, scores, args[self.own_row])
                return super().__call__(input_ids, scores, args)

        _WRAPPER = _EngineProcessors
    return _WRAPPER
