"""The fine-tuning data contract: reading, checking and splitting a JSONL file.

One JSON object a line (blank lines are skipped). The full contract, with examples, is in README.md beside
this file; `python -m bot.dataset export` writes exactly this.

SFT (`--kind sft`):
    {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
     "split": "train"|"validation" (optional), "meta": {...} (optional, ignored)}
    The last message is the assistant's accepted text; the loss is taken on it alone.

Preference (`--kind preference`), trl's conversational preference layout:
    {"prompt": [messages, the last one not the assistant's],
     "chosen": [{"role": "assistant", "content": str}],
     "rejected": [{"role": "assistant", "content": str}],
     "split": ..., "meta": ...}
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["sft", "preference"]
Message = dict[str, str]

ROLES = ("system", "user", "assistant")
SPLITS = ("train", "validation")
MIN_TRAIN = 4
MIN_VALIDATION = 2


class DataError(ValueError):
    """The data file cannot be used; the message names the file, the line and what to fix."""


@dataclass(frozen=True)
class SftExample:
    prompt: list[Message]  # everything before the answer
    completion: str  # the assistant's accepted text
    split: str | None = None


@dataclass(frozen=True)
class PreferencePair:
    prompt: list[Message]
    chosen: str
    rejected: str
    split: str | None = None


Example = SftExample | PreferencePair


@dataclass(frozen=True)
class Splits:
    train: list[Any]
    validation: list[Any]
    source: str  # how the validation set was chosen, for the model card


def load(path: Path, kind: Kind) -> list[Example]:
    """Every example in a JSONL file, checked against the contract for `kind`."""
    if not path.is_file():
        raise DataError(f"{path}: no such file." if not path.exists() else f"{path}: not a file.")
    examples: list[Example] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno}).") from None
            try:
                examples.append(parse(record, kind))
            except DataError as exc:
                raise DataError(f"{path}:{number}: {exc}") from None
    if not examples:
        raise DataError(f"{path}: the file holds no examples (one JSON object a line is expected).")
    return examples


def parse(record: object, kind: Kind) -> Example:
    """One record as an example of `kind`; raises DataError saying what is wrong with it."""
    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object, found {type(record).__name__}.")
    split = record.get("split")
    if split is not None and split not in SPLITS:
        raise DataError(f'"split" must be "train" or "validation", not {split!r}.')
    if kind == "sft":
        if "messages" not in record:
            hint = " It looks like a preference pair: use --kind preference." if "chosen" in record else ""
            raise DataError(f'an SFT example needs a "messages" list.{hint}')
        messages = _messages(record["messages"], "messages")
        if messages[-1]["role"] != "assistant":
            raise DataError('the last of "messages" must be the assistant\'s answer (role "assistant").')
        if len(messages) < 2:
            raise DataError('"messages" needs at least a user message before the assistant\'s answer.')
        return SftExample(messages[:-1], messages[-1]["content"], split)
    missing = [key for key in ("prompt", "chosen", "rejected") if key not in record]
    if missing:
        hint = " It looks like an SFT example: use --kind sft." if "messages" in record else ""
        raise DataError(f"a preference pair needs {', '.join(repr(m) for m in missing)}.{hint}")
    prompt = _messages(record["prompt"], "prompt")
    if prompt[-1]["role"] == "assistant":
        raise DataError('the last message of "prompt" must not be the assistant\'s: the answers go in chosen/rejected.')
    chosen, rejected = _answer(record["chosen"], "chosen"), _answer(record["rejected"], "rejected")
    if chosen == rejected:
        raise DataError('"chosen" and "rejected" are the same text, so there is nothing to prefer.')
    return PreferencePair(prompt, chosen, rejected, split)


def _messages(value: object, field: str) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise DataError(f'"{field}" must be a non-empty list of messages.')
    messages: list[Message] = []
    for index, message in enumerate(value):
        where = f'"{field}"[{index}]'
        if not isinstance(message, dict):
            raise DataError(f'{where} must be an object with "role" and "content".')
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise DataError(f'{where}: "role" must be one of {", ".join(ROLES)}, not {role!r}.')
        if not isinstance(content, str):
            raise DataError(f'{where}: "content" must be a string.')
        if not content.strip() and role != "system":
            raise DataError(f'{where}: "content" is empty.')
        messages.append({"role": role, "content": content})
    return messages


def _answer(value: object, field: str) -> str:
    messages = _messages(value, field)
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise DataError(f'"{field}" must be a list of exactly one message with role "assistant".')
    return messages[0]["content"]


def split(
    examples: list[Example], val_split: float, seed: int, extra_validation: list[Example] | None = None
) -> Splits:
    """Train and validation sets, deterministic for a seed.

    Examples marked with "split" go where they say. With `extra_validation` (--val-data) those are the
    validation set too and nothing else is held out; otherwise `val_split` of the unmarked examples,
    drawn with `seed`, is held out.
    """
    marked_train = [e for e in examples if e.split == "train"]
    marked_val = [e for e in examples if e.split == "validation"]
    unmarked = [e for e in examples if e.split is None]
    if extra_validation is not None:
        train, validation, source = marked_train + unmarked, marked_val + extra_validation, "--val-data"
    elif marked_val:
        train, validation, source = marked_train + unmarked, marked_val, 'the "split" field'
    else:
        order = list(range(len(unmarked)))
        random.Random(seed).shuffle(order)
        n_val = math.ceil(len(unmarked) * val_split) if val_split > 0 else 0
        held = set(order[:n_val])
        validation = [e for i, e in enumerate(unmarked) if i in held]
        train = marked_train + [e for i, e in enumerate(unmarked) if i not in held]
        source = f"{val_split:.0%} of the examples, drawn with seed {seed}"
    if len(validation) < MIN_VALIDATION or len(train) < MIN_TRAIN:
        raise DataError(
            f"Too little data for a validation split: {len(examples)} examples give {len(train)} to train on and "
            f"{len(validation)} to validate with; at least {MIN_TRAIN} and {MIN_VALIDATION} are needed. "
            "Add examples, raise --val-split, or pass a separate file with --val-data."
        )
    return Splits(train, validation, source)
