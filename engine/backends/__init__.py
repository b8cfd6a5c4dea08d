"""Generation backends behind one interface: `Backend` in base.py.

- `continuous`: transformers continuous batching (paged cache, per-request sampling), the CUDA default.
- `batched`: step-wise batched decoding with plain forward passes in a worker thread, the CPU default.
"""

from __future__ import annotations

from engine.backends.base import Backend, BackendDead
from engine.loading import LoadedModel


def make_backend(kind: str, loaded: LoadedModel, capacity: int) -> Backend:
    if kind == "auto":
        kind = "continuous" if loaded.device == "cuda" else "batched"
    if kind == "continuous":
        from engine.backends.continuous import ContinuousBackend

        return ContinuousBackend(loaded, capacity)
    from engine.backends.batched import BatchedBackend

    return BatchedBackend(loaded, capacity)


__all__ = ["Backend", "BackendDead", "make_backend"]
