"""Requests the engine must refuse: each gets OpenAI's error shape, the right status, and no traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.engine.helpers import assert_openai_error, chat, health, metric, post

NAN, INF = float("nan"), float("inf")
USER = [{"role": "user", "content": "hi"}]


def case(param: str | None, **fields: Any) -> Any:
    """A request that differs from a valid one by `fields`, and the `param` the error must name."""
    body = {"messages": USER, "max_tokens": 2, **fields}
    label = ",".join(f"{k}={v!r}"[:40] for k, v in fields.items())
    return pytest.param(body, param, id=label)


# Non-numbers, booleans, NaN/Infinity (Python's json reads them), negatives and out-of-range values.
NOT_NUMBERS = ["1", True, False, [1], {"v": 1}, NAN, INF, -INF]
NUMERIC_CASES = [
    *(case(name, **{name: v}) for name in ("max_tokens", "max_completion_tokens") for v in NOT_NUMBERS),
    *(case(name, **{name: v}) for name in ("max_tokens", "max_completion_tokens") for v in (0, -1, 1.5, 4097, 10**30)),
    *(case("temperature", temperature=v) for v in [*NOT_NUMBERS, -0.1, 2.01, 1e308]),
    *(case("top_p", top_p=v) for v in [*NOT_NUMBERS, 0, -0.5, 1.01]),
    *(case("top_k", top_k=v) for v in [*NOT_NUMBERS, -1, 2.5, 1_000_001]),
    *(case("n", n=v) for v in [*NOT_NUMBERS, 0, -1, 9, 1.5]),
    *(case("seed", seed=v) for v in [*NOT_NUMBERS, 0.5, 2**63, -(2**63) - 1, 10**30]),
]

SHAPE_CASES = [
    case("messages", messages=None),
    case("messages", messages="hi"),
    case("messages", messages={"role": "user", "content": "hi"}),
    case("messages", messages=[]),
    case("messages", messages=[{"role": "user", "content": "hi"}] * 1025),
    case("messages[0]", messages=["hi"]),
    case("messages[1]", messages=[*USER, None]),
    case("messages[0].role", messages=[{"role": "wizard", "content": "hi"}]),
    case("messages[0].role", messages=[{"role": "tool", "content": "hi"}]),
    case("messages[0].role", messages=[{"content": "hi"}]),
    case("messages[0].role", messages=[{"role": ["user"], "content": "hi"}]),
    case("messages[0].content", messages=[{"role": "user"}]),
    case("messages[0].content", messages=[{"role": "user", "content": None}]),
    case("messages[0].content", messages=[{"role": "user", "content": 42}]),
    case("messages[0].content", messages=[{"role": "user", "content": {"text": "hi"}}]),
    case("messages[0].content", messages=[{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]),
    case("messages[0].content", messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]),
    case("messages[0].content", messages=[{"role": "user", "content": ["hi"]}]),
    case("messages[0].content", messages=[{"role": "user", "content": "lone \ud800 surrogate"}]),
    case("stop", stop=5),
    case("stop", stop=["ok", 1]),
    case("stop", stop={"s": "x"}),
    case("stop", stop=["a", "b", "c", "d", "e"]),
    case("stop", stop=""),
    case("stop", stop=["ok", ""]),
    case("stop", stop="x" * 201),
    case("user", user="u" * 257),
    case("user", user=5),
    case("stream", stream="true"),
    case("stream", stream=1),
    case("stream_options", stream=True, stream_options="usage"),
    case("include_usage", stream=True, stream_options={"include_usage": "yes"}),
    case("model", model=5),
    case("tools", tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]),
    case("functions", functions=[{"name": "f"}]),
    case("logprobs", logprobs=True),
    case("response_format", response_format={"type": "json_object"}),
    case("logprobs", logprobs=True, top_logprobs=2),
    case("top_logprobs", top_logprobs=2),
    case("logit_bias", logit_bias={"50256": -100}),
    case("frequency_penalty", frequency_penalty="0"),
    case("frequency_penalty", frequency_penalty=2.01),
    case("frequency_penalty", frequency_penalty=-3),
    case("presence_penalty", presence_penalty=-2.5),
    case("presence_penalty", presence_penalty=True),
    case("presence_penalty", presence_penalty=NAN),
    case("repetition_penalty", repetition_penalty=0),
    case("repetition_penalty", repetition_penalty=-1.1),
    case("repetition_penalty", repetition_penalty=10.5),
    case("repetition_penalty", repetition_penalty="1.2"),
    case("repetition_penalty", repetition_penalty=INF),
]


@pytest.mark.parametrize(("body", "param"), NUMERIC_CASES + SHAPE_CASES)
async def test_invalid_request_is_a_400_naming_the_parameter(engine, http, body: dict, param: str) -> None:
    reply = await post(http, engine, body)
    error = assert_openai_error(reply, 400, param=param)
    assert error["type"] == "invalid_request_error"
    assert param.split(".")[-1].split("[")[0] in error["message"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{not json",
        b'{"messages": [}',
        b"\xff\xfe\x00garbage",
        '{"messages": [{"role": "user", "content": "caf\xe9"}]}'.encode("latin-1"),
    ],
    ids=["empty", "malformed", "truncated", "binary", "latin-1"],
)
async def test_unparseable_body_is_a_400(engine, http, data: bytes) -> None:
    assert_openai_error(await post(http, engine, data=data), 400)


@pytest.mark.parametrize("body", [[], "hello", 42, None, True], ids=["list", "string", "number", "null", "bool"])
async def test_body_that_is_not_an_object_is_a_400(engine, http, body: Any) -> None:
    assert_openai_error(await post(http, engine, body), 400)


async def test_a_strange_charset_is_ignored_json_is_utf8(engine, http) -> None:
    headers = {"Content-Type": "application/json; charset=no-such-charset"}
    reply = await post(http, engine, chat(max_tokens=1), headers=headers)
    assert reply.status == 200, reply.text


async def test_neutral_values_of_unsupported_parameters_are_accepted(engine, http) -> None:
    body = chat(max_tokens=1, logprobs=False, top_logprobs=0, logit_bias={}, tools=[], n=1.0)
    reply = await post(http, engine, body)
    assert reply.status == 200, reply.text


async def test_boundary_values_are_accepted(engine, http) -> None:
    body = chat(max_tokens=1, temperature=2, top_p=1, top_k=0, seed=-1, stop=["a", "b", "c", "d"], user="")
    body |= {"presence_penalty": -2, "frequency_penalty": 2, "repetition_penalty": 10}
    reply = await post(http, engine, body)
    assert reply.status == 200, reply.text


async def test_prompt_longer_than_the_context(engine, http) -> None:
    reply = await post(http, engine, chat("word " * 9000))
    error = assert_openai_error(reply, 400, param="messages", code="context_length_exceeded")
    numbers = [int(w) for w in error["message"].replace(",", " ").split() if w.isdigit()]
    assert any(n > 8192 for n in numbers), error["message"]  # how long the prompt is
    assert 8192 in numbers, error["message"]  # and the limit


async def test_max_tokens_overflowing_the_context(engine, http) -> None:
    reply = await post(http, engine, chat("word " * 4500, max_tokens=4000))
    error = assert_openai_error(reply, 400, param="messages", code="context_length_exceeded")
    assert "4000" in error["message"] and "8192" in error["message"]


async def test_body_over_the_size_limit_is_a_413(engine, http) -> None:
    reply = await post(http, engine, data=json.dumps(chat("x" * (5 * 1024 * 1024))))
    assert_openai_error(reply, 413)


async def test_unknown_path_and_wrong_method(engine, http) -> None:
    assert_openai_error(await post(http, engine, {}, path="/v1/completions"), 404)
    async with http.get(f"{engine.url}/v1/chat/completions") as response:
        assert response.status == 405
        assert set((await response.json())["error"]) == {"message", "type", "param", "code"}


async def test_rejections_are_counted_and_the_engine_carries_on(engine, http) -> None:
    before = await metric(http, engine, 'taleweaver_engine_rejections_total{reason="bad_request"}')
    assert_openai_error(await post(http, engine, chat(temperature=-1)), 400)
    assert_openai_error(await post(http, engine, data=b"{"), 400)
    after = await metric(http, engine, 'taleweaver_engine_rejections_total{reason="bad_request"}')
    assert after == before + 2
    info = await health(http, engine)
    assert info["status"] == "ready" and info["running"] == 0 and info["queue_depth"] == 0
