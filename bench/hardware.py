"""What the hardware allows: memory bandwidth, and the bytes of weights a decode step must read."""

from __future__ import annotations

import time
from typing import Any


def measure_bandwidth(device: Any) -> float:
    """Bytes per second a device-to-device copy moves (read plus write), the memory-bound yardstick."""
    import torch

    size = (1 << 30) if device.type == "cuda" else (256 << 20)
    source = torch.empty(size, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    target.copy_(source)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    rounds, started = 10, time.perf_counter()
    for _ in range(rounds):
        target.copy_(source)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * size * rounds / (time.perf_counter() - started)


def weight_bytes(model: Any) -> int:
    """Bytes of weights one decode step reads: every parameter (packed, when quantized), except the input
    embedding, of which a step reads one row (unless it is tied to the output layer, which reads it all)."""
    embedding = model.get_input_embeddings().weight
    tied = embedding is getattr(model.get_output_embeddings(), "weight", None)
    total = 0
    for param in {id(p): p for p in model.parameters()}.values():
        if param is embedding and not tied:
            continue
        total += param.numel() * param.element_size()
    return total
