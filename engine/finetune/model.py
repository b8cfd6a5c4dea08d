"""The base model (loaded the way the engine loads it) and the LoRA adapter put on top of it.

On CUDA the base is quantized to bitsandbytes 4-bit NF4 with bf16 compute and prepared for k-bit training:
QLoRA. On the CPU it stays dense (fp32 by default: CPUs without bf16 instructions run bf16 matmuls slower)
and the adapter is plain LoRA.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import EngineConfig
from engine.loading import LoadedModel, load_model, resolve_device

DEFAULT_TARGETS = "all-linear"  # every projection in attention and MLP, as the QLoRA paper does


@dataclass(frozen=True)
class BaseChoice:
    source: str | None  # as ENGINE_MODEL: a hub id, a directory, a .gguf file; None = the embedded default
    device: str = "auto"
    dtype: str = "auto"


def base_config(choice: BaseChoice) -> EngineConfig:
    """Engine settings for the base: QLoRA on CUDA, dense on the CPU; the model cache of ENGINE_CACHE_DIR."""
    device = resolve_device(choice.device)
    dtype = choice.dtype if choice.dtype != "auto" else ("bf16" if device == "cuda" else "fp32")
    settings: dict[str, Any] = {
        "model": choice.source,
        "device": device,
        "dtype": dtype,
        "quantization": "nf4" if device == "cuda" else "none",
    }
    cache = os.environ.get("ENGINE_CACHE_DIR", "").strip()
    if cache:
        settings["cache_dir"] = Path(cache).expanduser()
    # Not EngineConfig.from_env: an ENGINE_ADAPTER in the environment must not end up inside the base.
    return EngineConfig(**settings)


def load_base(choice: BaseChoice, progress: Callable[[str], None]) -> LoadedModel:
    loaded = load_model(base_config(choice), progress)
    if loaded.tokenizer.pad_token is None:
        loaded.tokenizer.pad_token = loaded.tokenizer.eos_token
    return loaded


@dataclass(frozen=True)
class LoraShape:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: str = DEFAULT_TARGETS


def add_adapter(loaded: LoadedModel, shape: LoraShape) -> Any:
    """A fresh LoRA adapter on the base (the B matrices start at zero, so it begins as the base model)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    model = loaded.model
    if loaded.quantization in {"nf4", "int8"}:
        # Casts norms to fp32 and turns on gradient checkpointing: what makes 4-bit training stable and small.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    targets: str | list[str] = shape.targets if shape.targets == "all-linear" else shape.targets.split(",")
    config = LoraConfig(
        r=shape.rank,
        lora_alpha=shape.alpha,
        lora_dropout=shape.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def trainable_parameters(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
