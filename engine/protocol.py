"""The OpenAI chat-completions wire format: validating requests, shaping responses and errors.

Validation is strict about what the engine acts on (a clear 400 naming the parameter) and lenient about
fields other clients send that change nothing here, such as `logprobs: false` or `logit_bias: {}`.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

ROLES = frozenset({"system", "developer", "user", "assistant"})
MAX_STOP = 4
MAX_STOP_LENGTH = 200
MAX_N = 8
MAX_USER_LENGTH = 256
MAX_MESSAGES = 1024
MAX_REPETITION_PENALTY = 10.0


class RequestError(Exception):
    """A request the client must fix: an OpenAI-shaped error with an HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.type = type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    model: str | None
    max_tokens: int | None
    temperature: float
    top_p: float
    top_k: int
    stop: tuple[str, ...]
    seed: int | None
    n: int
    user: str
    stream: bool
    include_usage: bool
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0


def parse_chat_request(body: Any, max_tokens_limit: int) -> ChatRequest:
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    _reject_unsupported(body)
    return ChatRequest(
        messages=_messages(body.get("messages")),
        model=_optional_str(body, "model"),
        max_tokens=_max_tokens(body, max_tokens_limit),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
        top_k=_integer(body, "top_k", 0, 0, 1_000_000),
        stop=_stop(body.get("stop")),
        seed=_seed(body),
        n=_integer(body, "n", 1, 1, MAX_N),
        user=_user(body),
        stream=_boolean(body, "stream", False),
        include_usage=_include_usage(body),
        presence_penalty=_number(body, "presence_penalty", 0.0, -2.0, 2.0),
        frequency_penalty=_number(body, "frequency_penalty", 0.0, -2.0, 2.0),
        repetition_penalty=_number(body, "repetition_penalty", 1.0, 0.0, MAX_REPETITION_PENALTY, low_open=True),
    )


def _messages(value: Any) -> tuple[ChatMessage, ...]:
    if value is None:
        raise RequestError("`messages` is required.", param="messages")
    if not isinstance(value, list):
        raise RequestError("`messages` must be an array of message objects.", param="messages")
    if not value:
        raise RequestError("`messages` must contain at least one message.", param="messages")
    if len(value) > MAX_MESSAGES:
        raise RequestError(f"`messages` has {len(value)} entries; at most {MAX_MESSAGES}.", param="messages")
    out = []
    for i, item in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"`{where}` must be an object with `role` and `content`.", param=where)
        role = item.get("role")
        if not isinstance(role, str) or role not in ROLES:  # a list or dict here is unhashable
            raise RequestError(
                f"`{where}.role` is {role!r}; it must be one of: system, developer, user, assistant.",
                param=f"{where}.role",
            )
        out.append(ChatMessage("system" if role == "developer" else role, _content(item.get("content"), where)))
    return tuple(out)


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return _encodable(value, where)
    if isinstance(value, list):  # content parts: only text parts are understood here
        texts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise RequestError(
                    f"`{where}.content` parts must be text parts ({{'type': 'text', 'text': ...}}).",
                    param=f"{where}.content",
                )
            texts.append(part["text"])
        return _encodable("".join(texts), where)
    raise RequestError(f"`{where}.content` must be a string.", param=f"{where}.content")


def _encodable(text: str, where: str) -> str:
    """JSON can carry a lone surrogate (`"\\ud800"`); the tokenizer cannot, so refuse it here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(
            f"`{where}.content` contains an unpaired UTF-16 surrogate; send valid Unicode text.",
            param=f"{where}.content",
        ) from None
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(body: dict, name: str, default: float, low: float, high: float, low_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if not _is_number(value):
        raise RequestError(f"`{name}` must be a number, not {value!r}.", param=name)
    if value < low or value > high or (low_open and value == low):
        bound = f"greater than {low}" if low_open else f"at least {low}"
        raise RequestError(f"`{name}` is {value}; it must be {bound} and at most {high}.", param=name)
    return float(value)


def _integer(body: dict, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestError(f"`{name}` must be an integer, not {value!r}.", param=name)
    if not low <= value <= high:
        raise RequestError(f"`{name}` is {value}; it must be between {low} and {high}.", param=name)
    return value


def _max_tokens(body: dict, limit: int) -> int | None:
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    if body.get(name) is None:
        return None
    return _integer(body, name, 0, 1, limit)


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise RequestError("`stop` must be a string or an array of strings.", param="stop")
    if len(items) > MAX_STOP:
        raise RequestError(f"`stop` has {len(items)} sequences; at most {MAX_STOP}.", param="stop")
    for s in items:
        if not s or len(s) > MAX_STOP_LENGTH:
            raise RequestError(f"Each `stop` sequence must be 1 to {MAX_STOP_LENGTH} characters.", param="stop")
    return tuple(items)


def _seed(body: dict) -> int | None:
    if body.get("seed") is None:
        return None
    return _integer(body, "seed", 0, -(2**63), 2**63 - 1) % (2**63)


def _user(body: dict) -> str:
    value = body.get("user")
    if value is None:
        return "anonymous"
    if not isinstance(value, str) or len(value) > MAX_USER_LENGTH:
        raise RequestError(f"`user` must be a string of at most {MAX_USER_LENGTH} characters.", param="user")
    return value or "anonymous"


def _boolean(body: dict, name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"`{name}` must be true or false, not {value!r}.", param=name)
    return value


def _optional_str(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise RequestError(f"`{name}` must be a string.", param=name)
    return value


def _include_usage(body: dict) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise RequestError("`stream_options` must be an object.", param="stream_options")
    return _boolean(options, "include_usage", False)


def _reject_unsupported(body: dict) -> None:
    """Parameters the engine does not implement are accepted only at their neutral value (absent, null,
    false, 0 or empty), so that a client relying on one learns at once rather than getting silently less."""
    for name in ("logprobs", "top_logprobs", "logit_bias", "tools", "functions", "response_format"):
        if body.get(name):
            raise RequestError(f"`{name}` is not supported by this engine.", param=name)


# --- responses ---------------------------------------------------------------------------------------
def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    cid: str, model: str, texts: list[str], finishes: list[str], prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
                "logprobs": None,
            }
            for i, (text, finish) in enumerate(zip(texts, finishes, strict=True))
        ],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def chunk_body(
    cid: str,
    model: str,
    index: int,
    delta: dict[str, str],
    finish: str | None = None,
    usage_block: dict[str, int] | None = None,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    if usage_block is not None:
        chunk["choices"] = []
        chunk["usage"] = usage_block
    return chunk
