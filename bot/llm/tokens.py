"""Counting tokens the way the model does, to fit prompts into its context.

The bot loads the model's tokenizer (`tokenizers`, fast and small) from the engine's model directory,
which our engine reports in /health, or from TOKENIZER. With neither (e.g. a remote vLLM without
TOKENIZER set) it falls back to a deliberately generous estimate, so prompts still fit.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class EstimatingCounter:
    """A generous estimate: a token per 3 ASCII characters, and 2 per other character (byte-level BPE
    tokenizers often split a CJK character or an emoji into 2 or more tokens)."""

    name = "estimate"

    def count(self, text: str) -> int:
        if not text:
            return 0
        ascii_chars = sum(1 for c in text if c < "\x80")
        return math.ceil(ascii_chars / 3) + 2 * (len(text) - ascii_chars)


class TokenizerCounter:
    def __init__(self, tokenizer: object, name: str) -> None:
        self._tokenizer = tokenizer
        self.name = name
        self._cached = lru_cache(maxsize=4096)(self._count)

    def _count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)  # type: ignore[attr-defined]

    def count(self, text: str) -> int:
        # Static prompt parts (rules, premise, pins, summary) repeat on every build; the cache makes them free.
        return self._cached(text) if text else 0


def load_counter(source: str | None) -> TokenCounter:
    """A counter for `source` (a tokenizer.json, a model directory, or a hub id), else the estimate."""
    if not source:
        return EstimatingCounter()
    try:
        from tokenizers import Tokenizer

        path = Path(source).expanduser()
        if path.is_dir():
            path = path / "tokenizer.json"
        tokenizer = Tokenizer.from_file(str(path)) if path.is_file() else Tokenizer.from_pretrained(source)
    except Exception as exc:
        log.warning("could not load the tokenizer from %s (%s); estimating token counts instead", source, exc)
        return EstimatingCounter()
    return TokenizerCounter(tokenizer, str(source))
