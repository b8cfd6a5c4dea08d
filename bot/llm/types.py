"""The typed values that cross the bot's boundary with the model server: chat messages and its health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict


class ChatMessage(TypedDict):
    """One message of an OpenAI-style chat, as sent to the server."""

    role: Literal["system", "user", "assistant"]
    content: str


def message(role: Literal["system", "user", "assistant"], content: str) -> ChatMessage:
    return {"role": role, "content": content}


@dataclass(frozen=True)
class EngineHealth:
    """What the server says about itself, parsed once from `/health` (or `/v1/models` for other servers).

    `status` is "ready", "loading", "stopping", "failed" or "unknown"; the rest is what our engine
    reports and is empty (None or 0) for servers that do not.
    """

    status: str = "unknown"
    model: str = ""
    progress: str = ""
    device: str | None = None
    quantization: str | None = None
    context_length: int | None = None
    tokenizer_path: str | None = None
    queue_depth: int = 0
    running: int = 0
    uptime_s: float | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def busy(self) -> bool:
        """Something is waiting in line or being written."""
        return bool(self.running or self.queue_depth)

    @classmethod
    def parse(cls, body: object) -> EngineHealth:
        """From a decoded JSON body; anything missing or of the wrong type falls back to its default."""
        data: dict[str, Any] = body if isinstance(body, dict) else {}
        return cls(
            status=_text(data.get("status")) or "unknown",
            model=_text(data.get("model")),
            progress=_text(data.get("progress")),
            device=_text(data.get("device")) or None,
            quantization=_text(data.get("quantization")) or None,
            context_length=_int(data.get("context_length")),
            tokenizer_path=_text(data.get("tokenizer_path")) or None,
            queue_depth=_int(data.get("queue_depth")) or 0,
            running=_int(data.get("running")) or 0,
            uptime_s=_float(data.get("uptime_s")),
        )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
