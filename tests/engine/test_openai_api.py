"""The engine through the official `openai` client: what the bot (or any OpenAI client) relies on.

Sampling is random, so nothing here asserts what the model says: only shapes, limits, usage, and
reproducibility under a fixed seed (which is deterministic, hence cannot flake).
"""

from __future__ import annotations

import openai
import pytest

from tests.engine.helpers import LONG_PROMPT, openai_client, stream_text

MESSAGES = [{"role": "user", "content": "Tell me a short fairy tale."}]
LONG = [{"role": "user", "content": LONG_PROMPT}]


async def test_completion_shape_and_usage(client: openai.AsyncOpenAI, engine) -> None:
    reply = await client.chat.completions.create(model="anything", messages=MESSAGES, max_tokens=16)
    assert reply.id.startswith("chatcmpl-")
    assert reply.object == "chat.completion"
    assert reply.model == engine.health()["model"]
    [choice] = reply.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in {"stop", "length"}
    usage = reply.usage
    assert usage.prompt_tokens > len(MESSAGES[0]["content"].split())  # the chat template adds tokens
    assert 0 <= usage.completion_tokens <= 16
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    if choice.finish_reason == "length":
        assert usage.completion_tokens == 16


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
async def test_tiny_limit_finishes_with_length(client: openai.AsyncOpenAI, limit: str) -> None:
    reply = await client.chat.completions.create(model="m", messages=LONG, temperature=0, **{limit: 3})
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 3
    assert reply.choices[0].message.content.strip()


async def test_stream_matches_the_same_seeded_completion(client: openai.AsyncOpenAI) -> None:
    params = dict(messages=MESSAGES, max_tokens=16, seed=1234, temperature=0.9)
    whole = await client.chat.completions.create(model="m", **params)
    texts, finishes, chunks = await stream_text(client, stream_options={"include_usage": True}, **params)

    assert texts[0] == whole.choices[0].message.content  # the deltas concatenate to the full text
    assert finishes == {0: whole.choices[0].finish_reason}
    assert finishes[0] in {"stop", "length"}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    *content, finish, usage = chunks
    assert finish.choices[0].finish_reason is not None  # the finish comes last, before the usage chunk
    assert all(c.choices[0].finish_reason is None for c in content)
    assert usage.choices == []
    assert usage.usage.model_dump() == whole.usage.model_dump()


async def test_stream_without_usage_has_no_usage_chunk(client: openai.AsyncOpenAI) -> None:
    _, finishes, chunks = await stream_text(client, messages=MESSAGES, max_tokens=4)
    assert all(c.usage is None and c.choices for c in chunks)
    assert finishes[0] in {"stop", "length"}


async def test_n_choices_have_distinct_indexes(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model="m", messages=LONG, n=3, max_tokens=8)
    assert sorted(c.index for c in reply.choices) == [0, 1, 2]
    assert all(c.finish_reason in {"stop", "length"} for c in reply.choices)
    assert reply.usage.completion_tokens <= 3 * 8
    if all(c.finish_reason == "length" for c in reply.choices):
        assert reply.usage.completion_tokens == 3 * 8


async def test_streamed_n_choices_each_finish_once(client: openai.AsyncOpenAI) -> None:
    texts, finishes, chunks = await stream_text(client, messages=LONG, n=2, max_tokens=6)
    assert set(finishes) == {0, 1}
    assert set(texts) == {0, 1}
    assert all(len(c.choices) == 1 for c in chunks)


async def test_seeded_choices_differ_and_repeat(client: openai.AsyncOpenAI) -> None:
    """Each choice of a seeded request gets its own seed: they differ, and the request repeats exactly.

    (Only an identical request repeats exactly: in bf16 the batch a sequence shares changes its logits in
    the last bits, so choice 1 of a seeded pair need not equal a lone request seeded with seed + 1.)
    """
    params = dict(messages=MESSAGES, max_tokens=12, temperature=1.0, n=2, seed=77)
    pair = await client.chat.completions.create(model="m", **params)
    again = await client.chat.completions.create(model="m", **params)
    texts = [c.message.content for c in pair.choices]
    assert texts == [c.message.content for c in again.choices]
    assert texts[0] != texts[1]


async def test_same_seed_same_text_different_seeds_differ(client: openai.AsyncOpenAI) -> None:
    params = dict(messages=MESSAGES, max_tokens=12, temperature=1.0)
    first = await client.chat.completions.create(model="m", seed=2024, **params)
    again = await client.chat.completions.create(model="m", seed=2024, **params)
    assert first.choices[0].message.content == again.choices[0].message.content
    # Fixed seeds make this deterministic: three seeds giving one identical text would be a seeding bug.
    others = [await client.chat.completions.create(model="m", seed=s, **params) for s in (1, 2)]
    texts = {first.choices[0].message.content, *(o.choices[0].message.content for o in others)}
    assert len(texts) > 1


async def test_stop_cuts_the_seeded_text_before_the_stop_string(client: openai.AsyncOpenAI) -> None:
    params = dict(messages=LONG, max_tokens=20, temperature=0.8, seed=99)
    full = (await client.chat.completions.create(model="m", **params)).choices[0].message.content
    assert len(full) >= 12, full
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    cut = await client.chat.completions.create(model="m", stop=[stop, "\u2603never"], **params)
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == full[: full.index(stop)]

    texts, finishes, _ = await stream_text(client, stop=stop, **params)
    assert finishes == {0: "stop"}
    assert texts[0] == full[: full.index(stop)]


async def test_stop_string_never_appears_in_output(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(
        model="m", messages=MESSAGES, n=3, max_tokens=12, stop=[" ", "e", "\n"]
    )
    for choice in reply.choices:
        assert not {" ", "e", "\n"} & set(choice.message.content)
        assert choice.finish_reason in {"stop", "length"}


async def test_models_lists_the_served_model(client: openai.AsyncOpenAI, engine) -> None:
    models = [m async for m in client.models.list()]
    assert [m.id for m in models] == [engine.health()["model"]]
    assert models[0].object == "model"


async def test_bad_parameter_is_a_bad_request_error(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="m", messages=MESSAGES, temperature=5)
    assert caught.value.status_code == 400
    assert caught.value.param == "temperature"
    assert caught.value.type == "invalid_request_error"


async def test_too_long_prompt_is_a_bad_request_error(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "word " * 9000}])
    assert caught.value.code == "context_length_exceeded"


async def test_unknown_path_is_a_not_found_error(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.get("/nowhere", cast_to=object)


async def test_streaming_error_is_raised_before_the_stream(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="m", messages=MESSAGES, stream=True, n=99)


async def test_content_parts_are_accepted(engine) -> None:
    async with openai_client(engine) as client:
        reply = await client.chat.completions.create(
            model="m",
            messages=[
                {"role": "developer", "content": "Answer briefly."},
                {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
            ],
            max_tokens=4,
        )
    assert reply.choices[0].finish_reason in {"stop", "length"}
