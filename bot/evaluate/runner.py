"""Sending the prompt set to an engine and checking what comes back, item by item."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.craft import best_draft, poem_messages
from bot.evaluate import narration
from bot.evaluate.prompts import PoemItem, PromptItem, StoryItem
from bot.llm.client import EngineClient, EngineError, Finished, Sampling, TextDelta
from bot.llm.types import ChatMessage
from bot.settings import Settings

POEM_TEMPERATURE, STORY_TEMPERATURE, TOP_P = 0.8, 0.85, 0.95  # what PoemService and StoryService use
TENANT = "evaluate"
BOT = Settings()  # the sampling the bot itself sends (penalties, narration length), so a run measures the bot


@dataclass(frozen=True)
class Options:
    n: int = 4  # drafts per prompt, in one request
    seed: int | None = None
    max_tokens: int | None = None  # a cap below each form's own limit (for quick runs)
    concurrency: int = 1  # requests in flight; each carries n sequences


@dataclass(frozen=True)
class PoemResult:
    id: str
    group: str
    language: str
    drafts: tuple[str, ...]
    truncated: tuple[bool, ...]
    scores: tuple[float, ...]
    passed: tuple[bool, ...]
    best_index: int
    first_summary: str
    best_summary: str
    references: tuple[str, ...] = ()
    error: str = ""

    @property
    def best(self) -> str:
        return self.drafts[self.best_index] if self.drafts else ""


@dataclass(frozen=True)
class StoryResult:
    id: str
    group: str
    takes: tuple[str, ...]
    truncated: tuple[bool, ...]
    speaks_for_player: tuple[bool, ...]
    first_person: tuple[bool, ...]
    copied_run: tuple[int, ...]  # the longest run of words copied from an earlier narration
    unusable: tuple[bool, ...]
    references: tuple[str, ...] = ()
    error: str = ""


ItemResult = PoemResult | StoryResult


async def run(
    client: EngineClient, items: Sequence[PromptItem], options: Options, advance: Callable[[], None]
) -> list[ItemResult]:
    """Every poem and story item through the engine (text items are for perplexity, measured elsewhere)."""
    gate = asyncio.Semaphore(options.concurrency)

    async def one(item: PoemItem | StoryItem) -> ItemResult:
        async with gate:
            try:
                return await (
                    _poem(client, item, options) if isinstance(item, PoemItem) else _story(client, item, options)
                )
            finally:
                advance()

    work = [item for item in items if isinstance(item, PoemItem | StoryItem)]
    return list(await asyncio.gather(*(one(item) for item in work)))


async def _poem(client: EngineClient, item: PoemItem, options: Options) -> PoemResult:
    sampling = Sampling(
        max_tokens=_cap(item.form.max_tokens, options), temperature=POEM_TEMPERATURE, top_p=TOP_P,
        seed=options.seed, n=options.n, presence_penalty=BOT.poem_presence_penalty,
        frequency_penalty=BOT.poem_frequency_penalty,
    )  # fmt: skip
    try:
        texts, reasons = await _generate(client, poem_messages(item.form, item.topic, item.mood, item.word), sampling)
    except EngineError as exc:
        return PoemResult(item.id, item.group, item.form.language, (), (), (), (), 0, "", "", item.references, str(exc))
    choice = best_draft(texts, item.form, item.word)
    return PoemResult(
        id=item.id,
        group=item.group,
        language=item.form.language,
        drafts=tuple(d.poem for d in choice.drafts),
        truncated=tuple(reason == "length" for reason in reasons),
        scores=tuple(d.check.score for d in choice.drafts),
        passed=tuple(d.check.passed for d in choice.drafts),
        best_index=choice.best.index,
        first_summary=choice.first.check.summary,
        best_summary=choice.best.check.summary,
        references=item.references,
    )


async def _story(client: EngineClient, item: StoryItem, options: Options) -> StoryResult:
    sampling = Sampling(
        max_tokens=_cap(BOT.narration_tokens, options), temperature=STORY_TEMPERATURE, top_p=TOP_P,
        stop=item.stops(), seed=options.seed, n=options.n, presence_penalty=BOT.narration_presence_penalty,
        frequency_penalty=BOT.narration_frequency_penalty,
    )  # fmt: skip
    try:
        takes, reasons = await _generate(client, item.messages(), sampling)
    except EngineError as exc:
        return StoryResult(item.id, item.group, (), (), (), (), (), (), item.references, str(exc))
    names = [p.name for p in item.players]
    truncated = tuple(reason == "length" for reason in reasons)
    return StoryResult(
        id=item.id,
        group=item.group,
        takes=takes,
        truncated=truncated,
        speaks_for_player=tuple(narration.speaks_for_player(t, names) for t in takes),
        first_person=tuple(narration.first_person(t) for t in takes),
        copied_run=tuple(narration.copied_run(t, item.earlier_narration) for t in takes),
        unusable=tuple(narration.unusable(t, item.players, cut) for t, cut in zip(takes, truncated, strict=True)),
        references=item.references,
    )


async def _generate(
    client: EngineClient, messages: list[ChatMessage], sampling: Sampling
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The n texts of one request and why each stopped. Streamed, so a long batched request on a slow CPU
    is not cut off by the client's silence timeout (a non-streamed answer says nothing until it is done)."""
    texts = [""] * sampling.n
    reasons = ["stop"] * sampling.n
    async for event in client.stream(messages, tenant=TENANT, sampling=sampling):
        if isinstance(event, TextDelta) and event.index < sampling.n:
            texts[event.index] += event.text
        elif isinstance(event, Finished) and event.index < sampling.n:
            reasons[event.index] = event.reason
    return tuple(texts), tuple(reasons)


def _cap(limit: int, options: Options) -> int:
    return min(limit, options.max_tokens) if options.max_tokens else limit
