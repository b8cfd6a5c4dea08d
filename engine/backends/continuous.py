"""transformers continuous batching: the CUDA backend.

`model.init_continuous_batching` runs a paged-attention scheduler in its own thread; requests join and
leave the running batch at every step. Per-request temperature, top-p and top-k go through transformers'
per-request logits processors, which exist only when the generation config sets a non-neutral default
for each, hence the defaults below. Repetition penalties and the backend's step counters ride in the
same batching step through `cb_hooks` (state on the device, see `engine/penalties.py`). Results come
back on the event loop via `register_result_handler`.

It also runs on the CPU (slower than the batched backend there), which is how the test suite covers it
on machines without a GPU.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from engine.backends import cb_hooks
from engine.backends.base import Backend
from engine.loading import LoadedModel
from engine.penalties import SlotPenalties
from engine.sequence import Sequence

log = logging.getLogger(__name__)

# Non-neutral defaults make transformers build the per-request processors; each request overrides them.
_DEFAULT_TEMPERATURE = 0.7
_DEFAULT_TOP_K = 50
_DEFAULT_TOP_P = 0.95


class ContinuousBackend(Backend):
    name = "continuous"

    def __init__(self, loaded: LoadedModel, capacity: int) -> None:
        super().__init__(loaded, capacity)
        from transformers import ContinuousBatchingConfig, GenerationConfig

        tokenizer = loaded.tokenizer
        self._vocab = int(loaded.model.config.get_text_config().vocab_size)
        self._eos = list(loaded.eos_token_ids)
        generation = GenerationConfig(
            do_sample=True,
            temperature=_DEFAULT_TEMPERATURE,
            top_k=_DEFAULT_TOP_K,
            top_p=_DEFAULT_TOP_P,
            max_new_tokens=256,
            eos_token_id=self._eos,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self._eos[0],
        )
        graphs: dict[str, Any] = {"use_cuda_graph": False} if loaded.adapters else {}  # see _use_adapter
        batching = ContinuousBatchingConfig(
            per_request_processors=True,
            max_requests_per_batch=capacity,
            **graphs,
            **_memory_hints(loaded),
        )
        self._manager: Any = loaded.model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=batching
        )
        self._penalties = SlotPenalties(_logits_width(loaded), 2 * capacity, loaded.model.device)
        cb_hooks.install(self._manager, self.steps, self._penalties)
        self._delivered: dict[str, int] = {}
        self._adapter: str | None = None  # the adapter the batch runs now; None = the base model
        self._held: deque[Sequence] = deque()  # requests for another adapter, waiting for its turn
        if loaded.adapters:
            self._use_adapter(None)

    def start(self) -> None:
        self._manager.start()

    def add(self, seq: Sequence) -> None:
        if self._held or seq.params.adapter != self._adapter:
            self._held.append(seq)
            self._next_turn()
            return
        self._submit(seq)

    def _submit(self, seq: Sequence) -> None:
        self._delivered[seq.id] = 0
        if seq.params.penalized:
            self._penalties.register(seq.id, seq.params, seq.prompt_ids)
        self._manager.register_result_handler(seq.id, lambda output: self._on_output(seq, output))
        self._manager.add_request(
            list(seq.prompt_ids),
            request_id=seq.id,
            max_new_tokens=seq.params.max_tokens,
            streaming=True,
            eos_token_id=self._eos,
            **self._sampling(seq),
        )

    def _sampling(self, seq: Sequence) -> dict[str, Any]:
        params = seq.params
        if params.greedy:  # per-request temperature cannot be 0; keeping only the top token is greedy
            return {"temperature": 1.0, "top_k": 1, "top_p": 1.0}
        top_k = params.top_k if params.top_k > 0 else self._vocab
        return {"temperature": float(params.temperature), "top_k": int(top_k), "top_p": float(params.top_p)}

    def _on_output(self, seq: Sequence, output: Any) -> None:
        """On the event loop: forward the tokens this output adds, and the finish once it is done."""
        if seq.id not in self._delivered:
            return  # aborted; late outputs are dropped
        tokens = list(output.generated_tokens)
        new = tokens[self._delivered[seq.id] :]
        self._delivered[seq.id] = len(tokens)
        if output.error:
            self._let_go(seq)
            seq.emit((), finish="error", error=str(output.error))
            return
        if not output.is_finished():
            seq.emit(new)
            return
        self._let_go(seq)
        if new and new[-1] in self._eos:
            seq.emit(new[:-1], finish="stop")
        elif len(tokens) >= seq.params.max_tokens:
            seq.emit(new, finish="length")
        else:
            seq.emit(new, finish="stop")

    def _let_go(self, seq: Sequence) -> None:
        self._delivered.pop(seq.id, None)
        self._penalties.forget(seq.id)
        if self._held:
            self._next_turn()

    # --- adapters take turns ------------------------------------------------------------------------
    def _next_turn(self) -> None:
        """Once the batch has drained, switch to the adapter of the longest-held request and submit its group.

        transformers' batching step runs one set of weights for all its rows, so requests for different
        adapters cannot share it: they are grouped, in the order they came, one adapter at a time.
        """
        if not self._held or self._delivered:
            return
        if self._cb_live():  # a cancelled request may still be in the step; look again shortly
            self._held[0].loop.call_later(0.02, self._next_turn)
            return
        self._use_adapter(self._held[0].params.adapter)
        group = [s for s in self._held if s.params.adapter == self._adapter]
        self._held = deque(s for s in self._held if s.params.adapter != self._adapter)
        for seq in group:
            self._submit(seq)

    def _use_adapter(self, adapter: str | None) -> None:
        """Switch the LoRA layers between steps (CUDA graphs are off with adapters: they would keep the old)."""
        peft_model = self.loaded.model
        if adapter is None:
            peft_model.base_model.disable_adapter_layers()
        else:
            peft_model.base_model.enable_adapter_layers()
            peft_model.set_adapter(adapter)
        self._adapter = adapter

    def abort(self, seq: Sequence) -> None:
        if seq in self._held:
            self._held.remove(seq)
            return
        if seq.id not in self._delivered:
            return
        self._let_go(seq)
        self._manager.cancel_request(seq.id)
        router = getattr(self._manager, "output_router", None)
        if router is not None:  # drop the handler now: a cancelled request never reports "finished"
            with router._lock:
                router.result_handlers.pop(seq.id, None)

    @property
    def live(self) -> int:
        """Requests held for their adapter's turn, plus those transformers' batching loop still holds."""
        return len(self._held) + self._cb_live()

    def _cb_live(self) -> int:
        """Requests transformers' batching loop still holds: queued to it, waiting, or being decoded."""
        manager = self._manager
        scheduler = getattr(getattr(manager, "batch_processor", None), "scheduler", None)
        held = manager.input_queue.qsize()
        if scheduler is not None:
            held += len(scheduler.active_requests) + len(scheduler.waiting_requests)
        return held

    def stop(self) -> None:
        self._manager.stop(block=True, timeout=30)

    @property
    def alive(self) -> bool:
        status = getattr(self._manager, "background_thread_status", None)
        error = getattr(status, "fatal_error", None)
        if error is not None and self.fatal_error is None:
            self.fatal_error = str(error)
        return self.fatal_error is None


def _logits_width(loaded: LoadedModel) -> int:
    """How many logits a step produces per row: the output embedding's rows (often the vocabulary)."""
    head = loaded.model.get_output_embeddings()
    weight = getattr(head, "weight", None)
    if weight is not None and weight.dim() == 2:
        return int(weight.shape[0])
    return int(loaded.model.config.get_text_config().vocab_size)


def _memory_hints(loaded: LoadedModel) -> dict[str, Any]:
    """On the CPU transformers cannot measure free memory; give the paged cache a modest fixed size."""
    if loaded.device == "cuda":
        return {}
    return {"num_blocks": 64, "max_batch_tokens": 1024}
