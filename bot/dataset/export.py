"""Build the training file from stored feedback: consented only, scrubbed, deduplicated, split.

SFT examples are the texts someone approved (saved to the anthology, chosen by a vote, or rated more 👍
than 👎) after the exact prompt the model saw. Preference pairs are a vote's winner over each other take
and a regenerated poem (or another take) over the text it replaced. The layout is engine.finetune's data
contract (engine/finetune/README.md), which is trl's conversational layout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.config import ConfigService
from bot.dataset.scrub import blocked_pattern, scrub_messages
from storage import feedback as repo
from storage.db import Database
from storage.feedback import Item, Messages, Pair, Tally

KINDS = ("sft", "preference")


class Policy(Protocol):
    """What the export asks of a server's settings now (the registry when it is there)."""

    async def consents(self, guild_id: int) -> bool: ...

    async def blocked_words(self, guild_id: int) -> list[str]: ...


class ServerSettings:
    """The servers' settings as the bot sees them (`/config`): training_consent and blocked_words."""

    def __init__(self, db: Database) -> None:
        self._config = ConfigService(db)

    async def consents(self, guild_id: int) -> bool:
        return bool(await self._config.get(guild_id, None, "training_consent"))

    async def blocked_words(self, guild_id: int) -> list[str]:
        return list(await self._config.get(guild_id, None, "blocked_words"))


class StoredConsentOnly:
    """No settings registry to ask: each row's stored consent decides, and nothing extra is blocked."""

    async def consents(self, guild_id: int) -> bool:
        return True

    async def blocked_words(self, guild_id: int) -> list[str]:
        return []


@dataclass(frozen=True)
class ExportOptions:
    kind: str = "sft"
    guild_id: int | None = None
    since: float = 0.0
    validation_share: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"--kind is sft or preference, not {self.kind!r}")
        if not 0 <= self.validation_share < 1:
            raise ValueError("the validation share is from 0 up to (not including) 1")


@dataclass
class Summary:
    kind: str
    written: Counter[tuple[int, str]] = field(default_factory=Counter)  # (server, feature/source) -> records
    splits: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    not_consenting_now: int = 0
    empty: int = 0

    @property
    def total(self) -> int:
        return sum(self.written.values())

    def lines(self, out: Path) -> list[str]:
        lines = [
            f"wrote {self.total} {self.kind} records to {out} "
            f"({self.splits['train']} train, {self.splits['validation']} validation)"
        ]
        for server in sorted({s for s, _ in self.written}):
            parts = ", ".join(f"{n} {what}" for (s, what), n in sorted(self.written.items()) if s == server)
            lines.append(f"  server {server}: {parts}")
        lines.append(
            f"left out: {self.duplicates} duplicates, {self.not_consenting_now} from servers that no longer "
            f"consent, {self.empty} empty after scrubbing (rows stored without consent are never read)"
        )
        return lines


Tick = Callable[[], None]


async def export(
    db: Database, out: Path, options: ExportOptions, policy: Policy, *, tick: Tick = lambda: None
) -> Summary:
    """Write the records to `out` (atomically: a partial file never replaces a good one)."""
    summary = Summary(options.kind)
    seen: set[str] = set()
    consent: dict[int, bool] = {}
    blocked: dict[int, re.Pattern[str] | None] = {}
    records: list[dict[str, Any]] = []
    async for guild_id, record, what in _candidates(db, options, tick):
        if guild_id not in consent:
            consent[guild_id] = await policy.consents(guild_id)
            blocked[guild_id] = blocked_pattern(await policy.blocked_words(guild_id))
        if not consent[guild_id]:
            summary.not_consenting_now += 1
            continue
        record = _scrubbed(record, blocked[guild_id])
        if record is None:
            summary.empty += 1
            continue
        key = _digest(record)
        if key in seen:
            summary.duplicates += 1
            continue
        seen.add(key)
        record["split"] = _split(record, options.validation_share)
        record["meta"] = {"server": str(guild_id), "feature": what}
        records.append(record)
        summary.written[(guild_id, what)] += 1
        summary.splits[record["split"]] += 1
    _write(out, records)
    return summary


async def count(db: Database, options: ExportOptions) -> int:
    async with db.read() as conn:
        return await repo.count_candidates(conn, guild_id=options.guild_id, since=options.since)


async def _candidates(
    db: Database, options: ExportOptions, tick: Tick
) -> AsyncIterator[tuple[int, dict[str, Any], str]]:
    async with db.read() as conn:
        if options.kind == "sft":
            async for item, tally in repo.approved_items(conn, guild_id=options.guild_id, since=options.since):
                tick()
                yield item.guild_id, _sft(item), f"{item.kind} ({_why(item, tally)})"
        else:
            async for pair in repo.consented_pairs(conn, guild_id=options.guild_id, since=options.since):
                tick()
                yield pair.guild_id, _preference(pair), f"{pair.source} pair"


def _why(item: Item, tally: Tally) -> str:
    if item.approved_at is not None:
        return "saved" if item.kind == "poem" else "chosen"
    return "rated"


def _sft(item: Item) -> dict[str, Any]:
    return {"messages": [*item.prompt, {"role": "assistant", "content": item.text}]}


def _preference(pair: Pair) -> dict[str, Any]:
    return {
        "prompt": pair.prompt,
        "chosen": [{"role": "assistant", "content": pair.chosen}],
        "rejected": [{"role": "assistant", "content": pair.rejected}],
    }


def _scrubbed(record: dict[str, Any], blocked: re.Pattern[str] | None) -> dict[str, Any] | None:
    """The record with every text scrubbed; None if an answer is left empty (or a pair the same)."""
    out = {key: scrub_messages(value, blocked) for key, value in record.items()}
    answers: list[Messages] = [out["messages"][-1:]] if "messages" in out else [out["chosen"], out["rejected"]]
    if any(not a or not a[0]["content"] for a in answers):
        return None
    if any(not m["content"] for m in out.get("messages", out.get("prompt", []))):
        return None  # the contract wants every message to say something
    if "chosen" in out and out["chosen"][0]["content"] == out["rejected"][0]["content"]:
        return None
    return out


def _digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _split(record: dict[str, Any], share: float) -> str:
    """By the prompt's hash: deterministic, and every answer to one prompt lands on the same side."""
    prompt = record.get("prompt") or record["messages"][:-1]
    digest = hashlib.sha256(json.dumps(prompt, sort_keys=True, ensure_ascii=False).encode()).digest()
    return "validation" if int.from_bytes(digest[:8], "big") / 2**64 < share else "train"


def _write(out: Path, records: list[dict[str, Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.with_name(f".{out.name}.partial")
    with scratch.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(scratch, out)
