"""Awkward message content over HTTP: Unicode of every kind, control characters, and very long prompts."""

from __future__ import annotations

import pytest

from tests.engine.helpers import chat, post

AWKWARD = {
    "emoji": "Tell me about 🐉🔥 and 👩\u200d👩\u200d👧\u200d👦 under 🇫🇷 skies 👋🏽",
    "zero-width": "in\u200bvis\u200cible\u200d jo\u2060iners\ufeff everywhere",
    "scripts": "日本語 한국어 العربية עברית हिन्दी ไทย Ελληνικά",
    "combining": "Z\u0351\u0308\u036b\u0306a\u0352l\u0350g\u0302o and e\u0301 and n\u0303",
    "bidi": "\u202eright to left\u202c and \u2066isolated\u2069",
    "controls": "nul \u0000 bell \u0007 escape \u001b[31m tab\tcr\r",
    "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀𓀁 \U0010fffd",
    "template-lookalikes": "{{ messages }} {% if %} <|fake|> <im_start> [INST] </s>",
}


@pytest.mark.parametrize("text", AWKWARD.values(), ids=AWKWARD.keys())
async def test_awkward_unicode_is_served(engine, http, text: str) -> None:
    reply = await post(http, engine, chat(text, max_tokens=4, stream=False))
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["usage"]["prompt_tokens"] > 10
    assert isinstance(body["choices"][0]["message"]["content"], str)


async def test_awkward_unicode_streams(engine, http) -> None:
    body = chat(" ".join(AWKWARD.values()), max_tokens=4, stream=True)
    async with http.post(f"{engine.url}/v1/chat/completions", json=body) as response:
        assert response.status == 200
        text = await response.text()
    assert text.rstrip().endswith("data: [DONE]")


async def test_a_long_prompt_within_the_context_is_served(engine, http) -> None:
    paragraph = "The caravan crossed the salt flats at night, guided by a single lantern. 🐪 "
    reply = await post(http, engine, chat(paragraph * 120, max_tokens=2))
    assert reply.status == 200, reply.text
    assert 2000 < reply.json()["usage"]["prompt_tokens"] < 8192


async def test_an_emoji_stop_sequence(engine, http) -> None:
    reply = await post(http, engine, chat("List ten animal emoji.", max_tokens=16, n=2, stop=["🐉", "🐱", "\n"]))
    assert reply.status == 200, reply.text
    for choice in reply.json()["choices"]:
        assert not {"🐉", "🐱", "\n"} & set(choice["message"]["content"])
