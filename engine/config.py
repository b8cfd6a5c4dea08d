"""The engine's settings: one typed home, read from the environment (and `.env`)."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
QUANTIZATIONS = ("auto", "nf4", "int8", "none")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "bf16", "fp16", "fp32")
BACKENDS = ("auto", "continuous", "batched")
ADAPTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RESERVED_MODEL_NAMES = frozenset({"default", "__base__"})


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "taleweaver"


@dataclass(frozen=True)
class EngineConfig:
    """Everything `python -m engine` can be told. Validated on construction."""

    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str | None = None
    model: str | None = None  # HF id, local dir, .gguf file, or None for the embedded default
    adapter: str | None = None  # LoRA adapter directory (peft), folded into the model
    adapters: str | None = None  # named LoRA adapters served side by side: "name=path,name=path"
    tokenizer: str | None = None  # tokenizer directory for random:<shape> models (default: the embedded model's)
    device: str = "auto"
    dtype: str = "auto"
    quantization: str = "auto"
    backend: str = "auto"
    cache_dir: Path = field(default_factory=_default_cache_dir)
    max_batch: int = 0  # 0 = pick by device: 64 on CUDA, 8 on CPU
    max_queue: int = 256  # requests waiting beyond the running batch; more get 429
    max_tokens_default: int = 512
    max_tokens_limit: int = 4096
    request_timeout: float = 300.0
    shutdown_grace: float = 10.0
    threads: int = 0  # torch intra-op threads on CPU; 0 = torch's default
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"ENGINE_PORT must be between 1 and 65535, not {self.port}.")
        if self.host not in LOOPBACK_HOSTS and not self.api_key:
            raise ConfigError(
                f"ENGINE_HOST={self.host} would expose the model server beyond this machine without a "
                "password. Set ENGINE_API_KEY to a long random secret (the bot sends it as ENGINE_API_KEY "
                "too), or bind 127.0.0.1."
            )
        for name, allowed in (
            ("device", DEVICES),
            ("dtype", DTYPES),
            ("quantization", QUANTIZATIONS),
            ("backend", BACKENDS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"ENGINE_{name.upper()}={value!r} is not one of: {', '.join(allowed)}.")
        if self.max_batch < 0 or self.max_queue < 1:
            raise ConfigError("ENGINE_MAX_BATCH must be >= 0 and ENGINE_MAX_QUEUE >= 1.")
        if not 1 <= self.max_tokens_default <= self.max_tokens_limit:
            raise ConfigError("ENGINE_MAX_TOKENS_DEFAULT must be between 1 and ENGINE_MAX_TOKENS_LIMIT.")
        if not (self.request_timeout > 0 and self.shutdown_grace >= 0):  # written so that NaN fails too
            raise ConfigError("ENGINE_REQUEST_TIMEOUT must be > 0 and ENGINE_SHUTDOWN_GRACE >= 0.")
        self.adapter_paths()  # validates the format
        if not isinstance(logging.getLevelName(self.log_level.upper()), int):
            raise ConfigError(f"ENGINE_LOG_LEVEL={self.log_level!r} is not one of: DEBUG, INFO, WARNING, ERROR.")

    def adapter_paths(self) -> dict[str, Path]:
        """ENGINE_ADAPTERS as {name: directory}. Raises ConfigError naming what is wrong."""
        out: dict[str, Path] = {}
        for item in (self.adapters or "").split(","):
            if not item.strip():
                continue
            name, sep, path = (part.strip() for part in item.partition("="))
            if not sep or not path:
                raise ConfigError(f"ENGINE_ADAPTERS: {item.strip()!r} is not name=path (e.g. noir=adapters/noir).")
            if not ADAPTER_NAME.fullmatch(name) or name in RESERVED_MODEL_NAMES:
                raise ConfigError(
                    f"ENGINE_ADAPTERS: the name {name!r} must be 1-64 letters, digits, '.', '_' or '-' "
                    f"(not {', '.join(sorted(RESERVED_MODEL_NAMES))})."
                )
            if name in out:
                raise ConfigError(f"ENGINE_ADAPTERS: the name {name!r} is given twice.")
            out[name] = Path(path).expanduser()
        return out

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> EngineConfig:
        """Read `ENGINE_*` variables (after loading `.env`), then apply explicit overrides."""
        if env is None:
            load_dotenv(find_dotenv(usecwd=True), override=False)  # the .env where the engine is run
            env = dict(os.environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"ENGINE_{f.name.upper()}")
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _parse(f.name, str(f.type), raw.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, type_name: str, raw: str) -> object:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"ENGINE_{name.upper()}={raw!r} is not a number.") from None
    if type_name == "Path":
        return Path(raw).expanduser()
    if name in {"device", "dtype", "quantization", "backend"}:
        return raw.lower()
    return raw
