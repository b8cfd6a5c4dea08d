"""The engine front end: model lifecycle, prompt preparation, and one async stream per request.

Two kinds of failure, as in vLLM: a request fails (it gets an error, everyone else carries on), or the
engine is dead (its backend worker died; `dead` is set and the process exits so a supervisor restarts it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.backends import Backend, make_backend
from engine.config import EngineConfig
from engine.generation import Generation
from engine.loading import LoadedModel, load_model
from engine.metrics import Metrics
from engine.protocol import ChatMessage, ChatRequest, RequestError
from engine.scheduler import FairScheduler, QueueFull
from engine.sequence import SamplingParams, SeqStatus, Sequence

log = logging.getLogger(__name__)

CPU_BATCH, CUDA_BATCH = 8, 64


class EngineState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    STOPPING = "stopping"


class EngineUnavailable(Exception):
    """The engine cannot take requests now (loading, stopping or dead)."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Prepared:
    prompt_ids: list[int]
    params: SamplingParams


class Engine:
    def __init__(self, config: EngineConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.state = EngineState.LOADING
        self.progress = "starting"
        self.error: str | None = None
        self.loaded: LoadedModel | None = None
        self.backend: Backend | None = None
        self.scheduler: FairScheduler | None = None
        self.dead = asyncio.Event()
        self.started_at = time.monotonic()
        self._escapes: list[tuple[str, str]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle ----------------------------------------------------------------------------------
    async def load(self) -> None:
        """Load the model in a thread (the HTTP server keeps answering /health meanwhile)."""
        try:
            loaded = await _in_daemon_thread(load_model, self.config, self._set_progress)
            capacity = self.config.max_batch or (CUDA_BATCH if loaded.device == "cuda" else CPU_BATCH)
            backend = make_backend(self.config.backend, loaded, capacity)
            backend.start()
        except Exception as exc:
            log.exception("model load failed")
            self.state, self.error = EngineState.FAILED, f"{type(exc).__name__}: {exc}"
            self.dead.set()
            return
        self.loaded, self.backend = loaded, backend
        self._escapes = _special_token_escapes(loaded.tokenizer)
        per_tenant = max(1, self.config.max_queue // 2)
        self.scheduler = scheduler = FairScheduler(backend, self.config.max_queue, per_tenant)
        scheduler.start()
        self.metrics.track(lambda: scheduler.waiting, lambda: scheduler.running, lambda: backend.live)
        self.metrics.ready.set(1)
        self.state, self.progress = EngineState.READY, "ready"
        self._spawn(self._watch_backend())
        log.info(
            "serving %s on %s (%s, %s backend, batch %d)",
            loaded.name,
            loaded.device,
            loaded.quantization,
            backend.name,
            capacity,
        )

    async def shutdown(self, grace: float) -> None:
        """Stop admitting; let running requests finish for up to `grace` seconds; then cancel the rest."""
        if self.state == EngineState.READY:
            self.state = EngineState.STOPPING
        self.metrics.ready.set(0)
        deadline = time.monotonic() + grace
        while self.scheduler and (self.scheduler.running or self.scheduler.waiting):
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        # What outlives the grace period ends now, so its client gets an answer rather than a socket that
        # hangs until the HTTP server's own shutdown timeout (60 s) runs out.
        for seq in self.scheduler.sequences() if self.scheduler else ():
            self.end(seq, SeqStatus.ABORTED)
            seq.emit((), finish="error", error="the engine is shutting down")
        for task in list(self._tasks):
            task.cancel()
        if self.scheduler:
            await self.scheduler.close()
        if self.backend:
            await asyncio.to_thread(self.backend.stop)

    def health(self) -> dict[str, Any]:
        loaded, backend, scheduler = self.loaded, self.backend, self.scheduler
        return {
            "status": self.state.value,
            "progress": self.progress,
            "error": self.error,
            "model": loaded.name if loaded else self.config.model or "default",
            "device": loaded.device if loaded else None,
            "dtype": loaded.dtype if loaded else None,
            "quantization": loaded.quantization if loaded else None,
            "backend": backend.name if backend else None,
            "context_length": loaded.context_length if loaded else None,
            "tokenizer_path": loaded.tokenizer_path if loaded else None,
            "capacity": backend.capacity if backend else None,
            "queue_depth": scheduler.waiting if scheduler else 0,
            "running": scheduler.running if scheduler else 0,
            "backend_running": backend.live if backend else 0,
            "uptime_s": round(time.monotonic() - self.started_at, 1),
        }

    # --- requests -----------------------------------------------------------------------------------
    def prepare(self, request: ChatRequest) -> Prepared:
        """Render the chat template and check the prompt fits. Raises RequestError or EngineUnavailable."""
        loaded = self._require_ready()
        ids = self.render(request.messages)
        room = loaded.context_length - len(ids)
        if request.max_tokens is not None and request.max_tokens > room:
            raise RequestError(
                f"This request's prompt is {len(ids)} tokens and asks for {request.max_tokens} more, but "
                f"the model's context is {loaded.context_length} tokens. Shorten the messages or lower "
                "max_tokens.",
                param="messages",
                code="context_length_exceeded",
            )
        if room < 1:
            raise RequestError(
                f"This request's prompt is {len(ids)} tokens, but the model's context is "
                f"{loaded.context_length} tokens. Shorten the messages.",
                param="messages",
                code="context_length_exceeded",
            )
        adapter = self.adapter_for(request.model)
        max_tokens = request.max_tokens or min(self.config.max_tokens_default, room)
        params = SamplingParams(
            max_tokens=max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            seed=request.seed,
            stop=request.stop,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
            repetition_penalty=request.repetition_penalty,
            adapter=adapter,
        )
        return Prepared(ids, params)

    def adapter_for(self, model: str | None) -> str | None:
        """The adapter a request's `model` picks: None for the base model.

        Without ENGINE_ADAPTERS any name is accepted (clients send all sorts). With them, the base model's id,
        "default" or no model pick the base; an adapter's name picks it; anything else is refused (404).
        """
        loaded = self._require_ready()
        if not loaded.adapters or model in (None, "", "default", loaded.name):
            return None
        if model in loaded.adapters:
            return model
        available = ", ".join([loaded.name, *loaded.adapters])
        raise RequestError(
            f"The model {model!r} is not served here. Available: {available}.",
            status=404,
            param="model",
            code="model_not_found",
        )

    def models(self) -> list[str]:
        """The base model's id, then each adapter's name."""
        name = self.loaded.name if self.loaded else self.config.model or "default"
        return [name, *(self.loaded.adapters if self.loaded else self.config.adapter_paths())]

    def render(self, messages: tuple[ChatMessage, ...]) -> list[int]:
        loaded = self._require_ready()
        chat = [{"role": m.role, "content": self._escape(m.content)} for m in messages]
        text = loaded.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        return list(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])

    def submit(self, prepared: Prepared, n: int, tenant: str) -> Generation:
        """Queue a request's `n` sequences. Raises QueueFull (429) or EngineUnavailable (503) at once."""
        self._require_ready()
        assert self.scheduler is not None
        loop = asyncio.get_running_loop()
        seqs = []
        for i in range(n):
            params = prepared.params
            if params.seed is not None and i:  # every choice differs, and each is reproducible
                params = SamplingParams(**{**params.__dict__, "seed": (params.seed + i) % 2**63})
            seqs.append(Sequence(prepared.prompt_ids, params, tenant, loop))
        try:
            position = self.scheduler.submit(seqs)
        except QueueFull:
            self.metrics.rejections.labels("queue_full").inc()
            raise
        self.metrics.prompt_tokens.inc(len(prepared.prompt_ids) * n)
        return Generation(self, seqs, position)

    def end(self, seq: Sequence, status: SeqStatus) -> None:
        """A sequence ended (FINISHED) or is given up (ABORTED): free its slot, stop the backend if it still
        generates it, and count it. Does nothing for a sequence that has already ended."""
        assert self.scheduler is not None
        if not self.scheduler.finish(seq, status):
            return
        if status == SeqStatus.FINISHED:
            if seq.first_token is not None:
                self.metrics.ttft.observe(seq.first_token - seq.created)
            self.metrics.latency.observe(time.monotonic() - seq.created)
        self.metrics.sequences.labels(status.value).inc()
        self.metrics.generated_tokens.inc(seq.generated)

    # --- internals ----------------------------------------------------------------------------------
    def _require_ready(self) -> LoadedModel:
        if self.state == EngineState.READY and self.loaded is not None:
            return self.loaded
        if self.state == EngineState.LOADING:
            raise EngineUnavailable(f"The model is still loading ({self.progress}).", retry_after=5)
        if self.state == EngineState.STOPPING:
            raise EngineUnavailable("The engine is shutting down.", retry_after=10)
        raise EngineUnavailable(f"The engine has failed: {self.error}", retry_after=10)

    def _escape(self, text: str) -> str:
        """Keep message text from smuggling in the template's control tokens (e.g. `<|im_start|>system`)."""
        for token, harmless in self._escapes:
            if token in text:
                text = text.replace(token, harmless)
        return text

    def _set_progress(self, message: str) -> None:
        self.progress = message
        log.info("%s", message)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_backend(self) -> None:
        while self.backend is not None and self.backend.alive:
            await asyncio.sleep(0.5)
        if self.backend is not None:
            log.error("backend died: %s", self.backend.fatal_error)
            self.state, self.error = EngineState.FAILED, self.backend.fatal_error
            self.metrics.ready.set(0)
            self.dead.set()


async def _in_daemon_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """`asyncio.to_thread`, except that the thread does not hold up the process's exit.

    `asyncio.run` joins its executor's threads, so a SIGTERM during a long model load would wait for the
    load to finish; a daemon thread is simply abandoned.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except BaseException as exc:  # handed to the awaiting task, which decides what it means
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    threading.Thread(target=run, name="engine-load", daemon=True).start()
    return await future


def _special_token_escapes(tokenizer: Any) -> list[tuple[str, str]]:
    tokens = {str(t) for t in getattr(tokenizer, "all_special_tokens", [])}
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens |= {getattr(t, "content", str(t)) for t in decoder.values()}
    # A zero-width joiner after the first character keeps the text readable but no longer a token.
    return [(t, t[0] + "\u200d" + t[1:]) for t in sorted(tokens, key=len, reverse=True) if len(t) > 1]
