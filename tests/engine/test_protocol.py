"""The wire format without HTTP: what a valid request becomes, and the shapes of responses and errors."""

from __future__ import annotations

import pytest

from engine.protocol import (
    ChatMessage,
    RequestError,
    chunk_body,
    completion_body,
    error_body,
    parse_chat_request,
    usage,
)


def parse(**fields):
    return parse_chat_request({"messages": [{"role": "user", "content": "hi"}], **fields}, max_tokens_limit=100)


def test_defaults() -> None:
    request = parse()
    assert request.messages == (ChatMessage("user", "hi"),)
    assert (request.model, request.max_tokens, request.seed) == (None, None, None)
    assert (request.temperature, request.top_p, request.top_k, request.n) == (1.0, 1.0, 0, 1)
    assert (request.stop, request.user, request.stream, request.include_usage) == ((), "anonymous", False, False)


def test_values_are_normalised() -> None:
    request = parse(
        messages=[
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": ""},
        ],
        temperature=0,
        top_p=0.5,
        n=2.0,
        seed=-1,
        stop="END",
        user="",
        stream=True,
        stream_options={"include_usage": True},
    )
    assert [m.role for m in request.messages] == ["system", "user", "assistant"]
    assert request.messages[1].content == "ab"
    assert isinstance(request.temperature, float) and request.temperature == 0.0
    assert request.n == 2 and isinstance(request.n, int)
    assert request.seed == 2**63 - 1  # negative seeds fold into range
    assert request.stop == ("END",)
    assert request.user == "anonymous"
    assert request.stream and request.include_usage


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert parse(max_tokens=5, max_completion_tokens=7).max_tokens == 7
    assert parse(max_tokens=5, max_completion_tokens=None).max_tokens == 5
    with pytest.raises(RequestError) as caught:
        parse(max_tokens=101)
    assert caught.value.param == "max_tokens" and "100" in caught.value.message


def test_request_error_has_openai_shape() -> None:
    error = RequestError("nope", status=429, param="x", code="queue_full", type="rate_limit_error", headers={"A": "1"})
    assert error.body() == {
        "error": {"message": "nope", "type": "rate_limit_error", "param": "x", "code": "queue_full"}
    }
    assert (error.status, error.headers) == (429, {"A": "1"})
    assert RequestError("bad").status == 400 and RequestError("bad").type == "invalid_request_error"
    assert error_body("m", "t") == {"error": {"message": "m", "type": "t", "param": None, "code": None}}


def test_completion_and_chunk_bodies() -> None:
    body = completion_body("chatcmpl-1", "m", ["a", "b"], ["stop", "length"], 10, 3)
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][1] == {
        "index": 1,
        "message": {"role": "assistant", "content": "b"},
        "finish_reason": "length",
        "logprobs": None,
    }
    assert body["usage"] == usage(10, 3) == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
    chunk = chunk_body("chatcmpl-1", "m", 1, {"content": "x"})
    assert chunk["object"] == "chat.completion.chunk" and chunk["choices"][0]["index"] == 1
    final = chunk_body("chatcmpl-1", "m", 0, {}, usage_block=usage(1, 2))
    assert final["choices"] == [] and final["usage"]["total_tokens"] == 3
