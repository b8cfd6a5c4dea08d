"""The safety gate and the usage limits end to end: the loopback Discord, the real bot, the real engine and
model (through a proxy that records what was asked and what came back), a real SQLite file."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from bot.safety.matcher import REDACTION, Matcher
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_poems import finished_poem, first_words
from tests.e2e.test_stories import answer
from tests.fakediscord import FakeDiscord

COMMON = ["the", "a", "and", "of", "in", "to", "is", "i", "my", "you", "with", "on", "it", "its"]


def streamed_text(raw: bytes) -> str:
    """What the model wrote, from the server-sent events the proxy passed on."""
    out = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data: ") and line.strip() != b"data: [DONE]":
            try:
                item = json.loads(line[6:])
            except ValueError:
                continue
            out += [(c.get("delta") or {}).get("content") or "" for c in item.get("choices", [])]
    return "".join(out)


def safety_rows(tw: BotHandle) -> list[tuple[str, str]]:
    with sqlite3.connect(tw.db_path) as conn:
        return conn.execute("SELECT action, detail FROM audit_log WHERE action LIKE 'safety.%' ORDER BY id").fetchall()


async def test_a_blocked_word_is_refused_on_input_before_the_model_sees_it(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    mod, alice, chan = world.mod, world.alice, world.channel
    assert taleweaver.proxy is not None
    await answer(await fake.invoke(mod, chan, "config set", key="blocked_words", value="grue, dark lord"))
    asked = taleweaver.proxy.completions

    refused = await fake.invoke(alice, chan, "poem", topic="A G\u200bRUE in the cellar")
    shown = await answer(refused)
    assert refused.ephemeral and "Your topic contains" in shown and "blocked" in shown, shown
    lore = await fake.invoke(mod, chan, "lore add", keys="castle", content="The \u202edark   LORD\u202c sleeps.")
    shown = await answer(lore)
    assert lore.ephemeral and "Your content contains" in shown, shown

    turn = await fake.invoke(alice, chan, "story add", text="I feed the grue my lantern.")
    await turn.wait_acknowledged(timeout=3)
    assert turn.ephemeral and "Your turn contains" in (turn.response_data or {}).get("content", ""), turn.response_data
    kept = (await turn.wait_original()).attachments
    assert [a.text for a in kept] == ["I feed the grue my lantern."], "the refused turn is handed back"

    assert taleweaver.proxy.completions == asked, "nothing was sent to the model"
    with sqlite3.connect(taleweaver.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM poems").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM lore_entries").fetchone() == (0,)
    rows = safety_rows(taleweaver)
    assert [action for action, _ in rows] == ["safety.input_refused"] * 3
    assert all("grue" not in detail.casefold() and "lord" not in detail.casefold() for _, detail in rows), rows
    assert [json.loads(d)["rules"][0].split(":")[0] for _, d in rows] == ["#1", "#2", "#1"]


async def test_the_server_limit_on_texts_written_at_once(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    proxy, bot = taleweaver.proxy, taleweaver.bot
    assert proxy is not None and bot is not None
    await answer(await fake.invoke(world.mod, world.channel, "config set", key="max_concurrent", value="1"))
    proxy.mode = "hang"  # the first poem stays in the middle of being written
    first = await fake.invoke(world.alice, world.channel, "poem", topic="lighthouses")
    await taleweaver.wait(lambda: proxy.hung.is_set(), what="the first poem to be under way")
    assert bot.limits.running(world.guild.id) == 1
    second = await fake.invoke(world.bob, world.other_channel, "poem", topic="harbours")
    shown = await answer(second)
    assert second.ephemeral and "already has 1 texts being written" in shown, shown
    assert proxy.completions == 1, "the second request never reached the engine"
    assert first.deferred


async def test_blocked_words_in_what_the_model_wrote_are_blacked_out(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    """No model output is assumed: the words blocked are the commonest in English, the proxy records what the
    model really wrote, and the test checks the redaction against that."""
    mod, chan = world.mod, world.channel
    proxy, bot = taleweaver.proxy, taleweaver.bot
    assert proxy is not None and bot is not None
    await answer(await fake.invoke(mod, chan, "config set", key="blocked_words", value=", ".join(COMMON)))
    await answer(await fake.invoke(mod, chan, "config set", key="max_length", value="40"))
    matcher = Matcher(COMMON)
    for _ in range(3):  # a poem with none of these words is possible, if very unlikely; it is tried again
        start = len(proxy.streamed)
        ix = await fake.invoke(world.alice, chan, "poem", topic="lighthouses", form="free verse")
        message = await finished_poem(taleweaver, (await first_words(taleweaver, ix)).id)
        raw = streamed_text(bytes(proxy.streamed[start:]))
        if matcher.find(raw):
            break
    else:
        pytest.fail("in three poems the model never wrote a common English word; nothing to redact")

    number = int(re.search(r"poem #(\d+)", message.content).group(1))  # type: ignore[union-attr]
    stored = (await bot.poems.get(number)).text
    assert REDACTION in stored and not matcher.find(stored), stored
    assert REDACTION in message.content and "Blocked words were blacked out" in message.content
    body = message.content.split("\n\n", 1)[1].split("\n🛡️", 1)[0]
    assert not matcher.find(body), body
    asked = json.loads(proxy.requests[-1])
    assert asked["max_tokens"] <= 40, "the server's maximum length reached the engine request"
    assert "suitable for all ages" in asked["messages"][0]["content"], "the content rating shaped the prompt"
    rows = [(a, d) for a, d in safety_rows(taleweaver) if a == "safety.output_redacted"]
    assert rows and all(not matcher.find(d.replace('"feature"', "").replace('"channel"', "")) for _, d in rows)


async def test_a_cooldown_says_how_long_to_wait(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    mod, chan = world.mod, world.channel
    await answer(await fake.invoke(mod, chan, "config set", key="lore_cooldown", value="120"))
    first = await answer(await fake.invoke(mod, chan, "lore add", keys="ember", content="Ember hoards songs."))
    assert "Lore #" in first, first
    again = await fake.invoke(mod, chan, "lore add", keys="frost", content="Frost never melts.")
    shown = await answer(again)
    assert again.ephemeral and re.search(r"again in (1 min \d+ s|2 min 0 s)", shown), shown
    elsewhere = await answer(
        await fake.invoke(mod, world.other_channel, "lore add", keys="frost", content="Frost never melts.")
    )
    assert "again in" in elsewhere, "the cooldown is the member's, in every channel"
