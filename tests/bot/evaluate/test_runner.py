"""bot.evaluate.runner against a scripted OpenAI-compatible stand-in: what is sent, and what is made of
the answer. (The real engine is used end to end in test_cli.py.)"""

from __future__ import annotations

import json

from aiohttp import web

from bot.evaluate.prompts import load
from bot.evaluate.runner import Options, PoemResult, StoryResult, run
from bot.llm.client import EngineClient
from tests.bot.conftest import StartServer

GOOD = "Cold rain on the roofs\na lantern sways by the door\nthe cat counts the drops"
TAKES = ["Mira: I run.", "The wind howls over the salt."]


def event(index: int, text: str | None = None, finish: str | None = None) -> bytes:
    choice = {"index": index, "delta": {"content": text} if text else {}, "finish_reason": finish}
    return f"data: {json.dumps({'choices': [choice]})}\n\n".encode()


async def test_each_item_is_one_request_for_n_drafts_and_the_best_is_chosen(scripted: StartServer) -> None:
    bodies: list[dict] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        story = body["messages"][0]["content"].startswith("You are the narrator")
        texts = TAKES if story else ["Here is a haiku:\nthe sea", GOOD]
        for i, text in enumerate(texts):  # interleaved, as a batching engine sends them
            await response.write(event(i, text[:5]))
        for i, text in enumerate(texts):
            await response.write(event(i, text[5:]))
            await response.write(event(i, finish="stop" if i else "length"))
        await response.write(b"data: [DONE]\n\n")
        return response

    url = await scripted({("POST", "/v1/chat/completions"): chat})
    items = [i for i in load() if i.id in ("haiku-harbour", "salt-road-2", "ppl-haiku")]
    ticks: list[int] = []
    async with EngineClient(url) as client:
        results = await run(client, items, Options(n=2, seed=7, max_tokens=50), lambda: ticks.append(1))
    assert len(bodies) == 2 and len(ticks) == 2  # the perplexity text is not sent
    poem_body = next(b for b in bodies if not b["messages"][0]["content"].startswith("You are the narrator"))
    assert (poem_body["n"], poem_body["seed"], poem_body["max_tokens"], poem_body["stream"]) == (2, 7, 50, True)
    story_body = next(b for b in bodies if b is not poem_body)
    assert story_body["stop"] == ["\nMira:", "\nTobin:", "\nAsh:", "\n["]
    poem = next(r for r in results if isinstance(r, PoemResult))
    assert poem.best_index == 1 and poem.passed == (False, True) and poem.best == GOOD
    assert poem.truncated == (True, False)
    assert poem.first_summary.startswith("form missed: ") and poem.best_summary == "form checked: 3/3 lines"
    story = next(r for r in results if isinstance(r, StoryResult))
    assert story.takes == tuple(TAKES)
    assert story.speaks_for_player == (True, False) and story.unusable == (True, False)


async def test_an_engine_error_is_recorded_and_the_run_goes_on(scripted: StartServer) -> None:
    async def chat(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "no such model", "type": "x"}}, status=400)

    url = await scripted({("POST", "/v1/chat/completions"): chat})
    items = [i for i in load() if i.id in ("haiku-harbour", "tanka-rain")]
    async with EngineClient(url) as client:
        results = await run(client, items, Options(n=2), lambda: None)
    assert [r.error for r in results] == ["no such model", "no such model"]
    assert all(isinstance(r, PoemResult) and r.drafts == () for r in results)
