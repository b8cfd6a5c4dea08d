"""Prometheus metrics, on a registry of the engine's own (so several engines can live in one test process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.queue_depth = Gauge("taleweaver_engine_queue_depth", "Sequences waiting for a slot", registry=r)
        self.running = Gauge("taleweaver_engine_running", "Sequences holding a generation slot", registry=r)
        self.backend_running = Gauge(
            "taleweaver_engine_backend_running", "Sequences the backend still holds (drops once it lets go)", registry=r
        )
        self.sequences = Counter(
            "taleweaver_engine_sequences", "Sequences that left the engine, by status", ["status"], registry=r
        )
        self.ready = Gauge("taleweaver_engine_ready", "1 when the model is loaded and serving", registry=r)
        self.requests = Counter(
            "taleweaver_engine_requests", "Chat completion requests by outcome", ["outcome"], registry=r
        )
        self.rejections = Counter(
            "taleweaver_engine_rejections", "Requests refused before generation", ["reason"], registry=r
        )
        self.prompt_tokens = Counter("taleweaver_engine_prompt_tokens", "Prompt tokens processed", registry=r)
        self.generated_tokens = Counter("taleweaver_engine_generated_tokens", "Tokens generated", registry=r)
        self.ttft = Histogram(
            "taleweaver_engine_time_to_first_token_seconds",
            "From arrival to the first generated token",
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "taleweaver_engine_request_latency_seconds",
            "From arrival to the last token",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def track(self, waiting: Callable[[], int], running: Callable[[], int], backend: Callable[[], int]) -> None:
        """Read the gauges from the scheduler and backend at scrape time rather than on every change."""
        self.queue_depth.set_function(waiting)
        self.running.set_function(running)
        self.backend_running.set_function(backend)

    def render(self) -> bytes:
        return generate_latest(self.registry)
