"""--compare: two adapters (the OpenAI `model` field) or two engine URLs side by side, through the real CLI
process against scripted stand-ins whose answers differ by what they are asked for."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp import web

from tests.bot.conftest import Handler, StartServer
from tests.support.engine_proc import ROOT

TINY = Path(__file__).with_name("tiny.jsonl")
GOOD = "Cold rain on the roofs\na lantern sways by the door\nthe cat counts the drops"
BAD = "The moon over the harbour\nboats sleep"


def chat_handler(good_model: str | None) -> Handler:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        good = good_model is None or body.get("model") == good_model
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(body["n"]):
            text = json.dumps({"choices": [{"index": i, "delta": {"content": GOOD if good else BAD}}]})
            await response.write(f"data: {text}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    return chat


async def models(request: web.Request) -> web.Response:
    return web.json_response({"data": [{"id": "stand-in"}]})


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.evaluate", "--prompts", str(TINY), "--no-perplexity", "--n", "2", *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_two_adapters_side_by_side(scripted: StartServer, tmp_path: Path) -> None:
    url = await scripted({("POST", "/v1/chat/completions"): chat_handler("tuned"), ("GET", "/v1/models"): models})
    code, out, err = await run_cli("--engine-url", url, "--compare", "base", "tuned", "--out", str(tmp_path))
    assert code == 0, err[-2000:]
    result = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    base, tuned = result["runs"]
    assert (base["label"], base["model"], tuned["label"], tuned["model"]) == ("base", "base", "tuned", "tuned")
    assert base["summary"]["groups"]["en:haiku"]["best_pass"] == 0.0
    assert tuned["summary"]["groups"]["en:haiku"]["best_pass"] == 1.0
    assert "base: first draft" in out and "tuned: best of 2" in out
    assert (tmp_path / "adherence.png").read_bytes()[:4] == b"\x89PNG"


async def test_two_engine_urls_side_by_side(scripted: StartServer, tmp_path: Path) -> None:
    routes = {("GET", "/v1/models"): models}
    good = await scripted({("POST", "/v1/chat/completions"): chat_handler(None), **routes})
    bad = await scripted({("POST", "/v1/chat/completions"): chat_handler("nothing"), **routes})
    code, _out, err = await run_cli("--compare", good, bad, "--out", str(tmp_path))
    assert code == 0, err[-2000:]
    result = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [run["engine"] for run in result["runs"]] == [good, bad]
    assert [run["summary"]["overall"]["best_pass"] for run in result["runs"]] == [0.5, 0.0]  # the jueju fails both
