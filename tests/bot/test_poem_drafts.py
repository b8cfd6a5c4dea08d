"""Best-of-N poems: N drafts in one request, each checked against the form, the best one shown and stored.

A scripted engine (exact drafts, interleaved as a batched engine sends them) pins the choice; the real
engine runs the same path in tests/e2e/test_poem_craft.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.craft import check, get_form
from bot.drafts import Drafting, Drafts, write_drafts
from bot.llm.client import EngineBusy, EngineClient, Finished, Queued, Sampling, TextDelta
from bot.poems import PoemDone, PoemRequest, PoemService
from storage.db import Database
from tests.bot.conftest import StartServer

GOOD = "Cold rain on the roofs\na lantern sways by the door\nthe cat counts the drops"
NEAR = "Cold rain on the roofs\na lantern sways beside the door\nthe cat counts the drops"  # line 2: 8
FAR = "The moon over the harbour\nboats sleep\nwaves"
CHATTY = "Here is a haiku about rain:\n\n" + NEAR


def request(**fields: object) -> PoemRequest:
    return PoemRequest(guild_id=1, channel_id=2, author_id=3, topic="rain", **fields)  # type: ignore[arg-type]


def batched_chat(drafts: list[str], bodies: list[dict], finish: str = "stop") -> web.RequestHandler:
    """An engine stand-in that streams `drafts` as n choices, word by word, interleaved like a batch."""

    async def chat(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pieces = [text.split(" ") for text in drafts]
        for step in range(max(map(len, pieces))):
            for index, words in enumerate(pieces):
                if step < len(words):
                    text = words[step] + (" " if step < len(words) - 1 else "")
                    event = {"choices": [{"index": index, "delta": {"content": text}, "finish_reason": None}]}
                    await response.write(f"data: {json.dumps(event)}\n\n".encode())
        for index in range(len(drafts)):
            event = {"choices": [{"index": index, "delta": {}, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    return chat


async def test_the_only_passing_draft_is_shown_stored_and_checked(db: Database, scripted: StartServer) -> None:
    bodies: list[dict] = []
    drafts = [FAR, CHATTY, GOOD, NEAR]  # the third is the one that keeps the form
    url = await scripted({("POST", "/v1/chat/completions"): batched_chat(drafts, bodies)})
    async with EngineClient(url) as client:
        service = PoemService(db, client, drafts=4, presence_penalty=0.2, frequency_penalty=0.1)
        poem = await service.create(request(form="haiku"))
        events = [event async for event in service.compose(poem)]
    (body,) = bodies
    assert body["n"] == 4 and body["stream"] is True, "one request for all the drafts"
    assert (body["presence_penalty"], body["frequency_penalty"]) == (0.2, 0.1)
    assert "repetition_penalty" not in body, "an extension is sent only when set"
    progress = [e for e in events if isinstance(e, Drafting)]
    assert progress and all(e.drafts == 4 for e in progress)
    assert [e.tokens for e in progress] == sorted(e.tokens for e in progress), "progress only grows"
    assert not any(isinstance(e, TextDelta) for e in events), "no single draft is streamed"
    done = events[-1]
    assert isinstance(done, PoemDone) and not done.truncated and not done.cut_short
    assert done.poem.text == GOOD and done.poem.drafts == 4
    assert done.check == check(get_form("haiku"), done.poem.text), "the stored check is the check of the text shown"
    assert done.check.passed and done.check.summary == "form checked: 3/3 lines"
    stored = await service.drafts(poem.id)
    assert [d.text for d in stored] == drafts
    assert [d.chosen for d in stored] == [False, False, True, False]
    for draft in stored:
        again = check(get_form("haiku"), draft.text)
        assert (draft.score, draft.passed) == (again.score, again.passed), "stored scores are the checker's"
    assert max(stored, key=lambda d: (d.passed, d.score)).chosen


async def test_with_no_passing_draft_the_closest_is_shown_and_the_footer_says_what_misses(
    db: Database, scripted: StartServer
) -> None:
    url = await scripted({("POST", "/v1/chat/completions"): batched_chat([FAR, CHATTY], [])})
    async with EngineClient(url) as client:
        service = PoemService(db, client, drafts=2)
        poem = await service.create(request(form="haiku"))
        done = [event async for event in service.compose(poem)][-1]
    assert isinstance(done, PoemDone) and done.check is not None
    assert done.poem.text == NEAR, "the preface is cleaned away from what is shown"
    assert not done.check.passed and done.check.summary == "form missed: line 2 has 8 syllables, wants 7"
    regenerated = await service.get(poem.id)
    assert regenerated.form_check == done.poem.form_check


class SlowDrafts:
    """Two drafts: the first finishes at once, the second keeps writing; a fake clock moves 10 s a token."""

    def __init__(self) -> None:
        self.now = 0.0
        self.closed = False

    def clock(self) -> float:
        return self.now

    async def stream(self, messages: list[dict[str, str]], **_: object) -> AsyncIterator[object]:
        try:
            yield Queued(2)
            for word in ("Cold rain on the roofs\n", "a lantern sways by the door\n", "the cat counts the drops"):
                yield TextDelta(word, 0)
            yield Finished("stop", 0)
            while True:
                self.now += 10
                yield TextDelta("and on and on. ", 1)
        finally:
            self.closed = True


async def test_the_time_budget_stops_the_drafts_and_keeps_those_finished(db: Database) -> None:
    engine = SlowDrafts()
    events = [
        e
        async for e in write_drafts(
            engine,  # type: ignore[arg-type]
            [],
            tenant="1",
            sampling=Sampling(max_tokens=50, n=2),
            seconds=30,
            clock=engine.clock,
        )
    ]
    assert engine.closed, "the stream is closed, so the engine aborts the request"
    assert events[0] == Queued(2)
    result = events[-1]
    assert isinstance(result, Drafts) and result.finish == ("stop", "budget") and result.finished() == [0]
    assert engine.now == 30

    service = PoemService(db, SlowDrafts(), drafts=2, draft_seconds=30)  # type: ignore[arg-type]
    poem = await service.create(request(form="haiku"))
    done = [event async for event in service.compose(poem)][-1]
    assert isinstance(done, PoemDone) and done.poem.text == GOOD and not done.cut_short


async def test_free_verse_and_unchecked_languages_stream_one_draft(db: Database, scripted: StartServer) -> None:
    bodies: list[dict] = []
    url = await scripted({("POST", "/v1/chat/completions"): batched_chat(["one line"], bodies)})
    async with EngineClient(url) as client:
        service = PoemService(db, client, drafts=4)
        free = await service.create(request())
        german = await service.create(request(form="haiku", language="Deutsch"))
        free_done = [e async for e in service.compose(free)][-1]
        german_done = [e async for e in service.compose(german)][-1]
    assert [b["n"] for b in bodies] == [1, 1]
    assert free_done.check is not None and not free_done.check.passed, "free verse is checked on its line count"
    assert german_done.check is None, "a language without checked forms is not checked"
    assert 'Write it in this language: "Deutsch"' in bodies[1]["messages"][-1]["content"]


async def test_a_chinese_quatrain_is_asked_in_chinese_and_checked_by_characters(
    db: Database, scripted: StartServer
) -> None:
    jingyesi = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。"
    bodies: list[dict] = []
    url = await scripted({("POST", "/v1/chat/completions"): batched_chat([jingyesi, "月亮"], bodies)})
    async with EngineClient(url) as client:
        service = PoemService(db, client, drafts=2)
        poem = await service.create(request(form="五言绝句", language="zh-CN"))
        done = [e async for e in service.compose(poem)][-1]
    assert "五言绝句" in bodies[0]["messages"][-1]["content"]
    assert isinstance(done, PoemDone) and done.check is not None and done.check.unit == "characters"
    assert done.check.passed and done.check.summary.startswith("form checked: 4/4 lines")


async def test_with_no_room_in_the_engines_line_for_the_drafts_one_is_streamed(
    db: Database, scripted: StartServer
) -> None:
    """The engine answers 429 (its line is full) to a request for 4 drafts, which takes 4 places in it, and
    takes one: the poem is written as one streamed draft, checked as usual, instead of being refused."""
    bodies: list[dict] = []
    streamed = batched_chat([GOOD], bodies)

    async def one_place(request: web.Request) -> web.StreamResponse:
        if (await request.json()).get("n", 1) > 1:
            bodies.append(await request.json())
            raise web.HTTPTooManyRequests(headers={"Retry-After": "7"}, text='{"error": {"message": "queue full"}}')
        return await streamed(request)

    url = await scripted({("POST", "/v1/chat/completions"): one_place})
    async with EngineClient(url) as client:
        service = PoemService(db, client, drafts=4)
        poem = await service.create(request(form="haiku"))
        events = [event async for event in service.compose(poem)]
    assert [b.get("n", 1) for b in bodies] == [4, 1], "four drafts were asked for, then one"
    assert any(isinstance(e, TextDelta) for e in events), "the one draft streams as it is written"
    done = events[-1]
    assert isinstance(done, PoemDone) and done.poem.text == GOOD and done.poem.drafts == 1
    assert done.check is not None and done.check.passed, "it is checked like any poem of its form"
    assert await service.drafts(poem.id) == [], "no drafts to choose from were kept"


async def test_a_full_line_for_a_single_draft_is_still_a_clear_refusal(db: Database, scripted: StartServer) -> None:
    async def full(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTooManyRequests(headers={"Retry-After": "7"}, text='{"error": {"message": "queue full"}}')

    url = await scripted({("POST", "/v1/chat/completions"): full})
    async with EngineClient(url) as client:
        service = PoemService(db, client, drafts=4)
        poem = await service.create(request(form="haiku"))
        with pytest.raises(EngineBusy) as caught:
            [event async for event in service.compose(poem)]
    assert caught.value.retry_after == 7
    assert (await service.get(poem.id)).text == "", "nothing is stored for a poem that was not written"
