"""Feedback end to end: ratings, regenerate, save and story votes recorded through the loopback Discord,
the real bot, the real engine and a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.dataset.__main__ import main as dataset_main
from engine.finetune.data import load
from storage import feedback as repo
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_poems import finished_poem, first_words, poem_id, write_poem
from tests.e2e.test_stories import _open_vote, _result, add, answer, narrations, start_story, wait_narrations
from tests.fakediscord import FakeDiscord, Message


def rating_ids(message: Message) -> tuple[str, str]:
    ids = [c for c in message.custom_ids if c.startswith("rate:")]
    assert [c.rsplit(":", 1)[0] for c in ids] == ["rate:up", "rate:down"], message.custom_ids
    return ids[0], ids[1]


async def rate(fake: FakeDiscord, user: object, message: Message, custom_id: str) -> str:
    ix = await fake.click(user, message, custom_id=custom_id)  # type: ignore[arg-type]
    await ix.wait_acknowledged(timeout=3)
    assert ix.ephemeral, "a rating is answered privately"
    return str((ix.response_data or {}).get("content"))


def sent_bodies(tw: BotHandle) -> list[dict]:
    """Every chat request the bot sent the engine, as JSON."""
    assert tw.proxy is not None
    return [json.loads(body) for body in tw.proxy.requests]


async def rows(tw: BotHandle, sql: str, *params: object) -> list[tuple]:
    assert tw.bot is not None
    async with tw.bot.db.read() as conn:
        async with conn.execute(sql, params) as cur:
            return [tuple(r) for r in await cur.fetchall()]


async def test_ratings_regenerate_and_save_are_recorded(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    assert taleweaver.proxy is not None and taleweaver.bot is not None
    _, poem = await write_poem(taleweaver, world, topic="a kettle on the stove", form="haiku")
    number = poem_id(poem)
    up, down = rating_ids(poem)
    item_id = int(up.rsplit(":", 1)[1])
    sent = next(b for b in reversed(sent_bodies(taleweaver)) if "kettle" in json.dumps(b["messages"]))
    async with taleweaver.bot.db.read() as conn:
        item = await repo.get_item(conn, item_id)
    assert item is not None and item.poem_id == number and item.kind == "poem"
    assert item.prompt == sent["messages"], "the exact prompt the model saw"
    assert item.text == (await taleweaver.bot.poems.get(number)).text
    assert not item.consent, "nobody opted in, so the row says so"

    assert "you rated this 👍" in await rate(fake, world.bob, poem, up)
    assert "you rated this 👎" in await rate(fake, world.cara, poem, down)
    assert "Changed: you now rate this 👎" in await rate(fake, world.bob, poem, down)
    assert "already rated this 👎" in await rate(fake, world.bob, poem, down)
    assert await rows(taleweaver, "SELECT user_id, rating FROM feedback_ratings WHERE item_id = ? ORDER BY user_id",
                      item_id) == sorted([(world.bob.id, -1), (world.cara.id, -1)])  # fmt: skip

    old_text = item.text
    versions = len(poem.history)
    await (await fake.click(world.alice, poem, custom_id=f"poem:regen:{number}")).wait_acknowledged()

    def regenerated() -> Message | None:
        message = fake.message_by_id[poem.id]
        done = any(c.startswith("rate:") for c in message.custom_ids)  # not the Cancel button it shows while writing
        return message if len(message.history) > versions + 1 and done else None

    rewritten = await taleweaver.wait(regenerated, what="the regenerated poem")
    new_text = (await taleweaver.bot.poems.get(number)).text
    new_up, _ = rating_ids(rewritten)
    assert new_up != up, "the new text is a new item with its own ratings"
    pairs = await rows(
        taleweaver, "SELECT source, user_id, chosen, rejected, prompt FROM feedback_pairs WHERE poem_id = ?", number
    )
    if new_text.strip() != old_text.strip():  # the same words again would prefer nothing
        assert [p[:4] for p in pairs] == [("regenerate", world.alice.id, new_text, old_text)]
        assert json.loads(pairs[0][4]) == item.prompt

    another = await fake.click(world.bob, rewritten, custom_id=f"poem:another:{number}")
    await another.wait_acknowledged()
    second = await finished_poem(taleweaver, (await first_words(taleweaver, another)).id)
    second_number = poem_id(second)
    taken = await rows(
        taleweaver, "SELECT source, user_id, old_poem_id, rejected FROM feedback_pairs WHERE poem_id = ?", second_number
    )
    assert taken in ([], [("another", world.bob.id, number, new_text)])
    if (await taleweaver.bot.poems.get(second_number)).text.strip() != new_text.strip():
        assert taken, "another take records the poem it passed over"

    save = await fake.click(world.cara, second, custom_id=f"poem:save:{second_number}")
    await save.wait_acknowledged()
    await save.wait_followups(1)
    approved = await rows(
        taleweaver,
        "SELECT approved_by FROM feedback_items WHERE poem_id = ? AND approved_at IS NOT NULL",
        second_number,
    )
    assert approved == [(world.cara.id,)], "saving to the anthology approves the poem"
    assert any(c.startswith("rate:") for c in fake.message_by_id[second.id].custom_ids), "rating stays after saving"

    await taleweaver.restart()  # the buttons outlive the bot that made them
    assert "you rated this 👍" in await rate(fake, world.alice, fake.message_by_id[poem.id], new_up)


async def test_a_vote_is_recorded_as_preference_pairs_with_the_prompt_the_narrator_saw(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    assert taleweaver.proxy is not None
    chan, alice = world.channel, world.alice
    await start_story(fake, chan, alice, [], mode="free", narrate_every=1, choices=2)
    opening = await wait_narrations(taleweaver, chan, 1)
    up, _ = rating_ids(opening)
    assert "you rated this 👍" in await rate(fake, world.bob, opening, up), "anyone who reads it may rate it"

    await add(fake, alice, chan, "I open the lantern's little door.")
    vote = await taleweaver.wait(lambda: _open_vote(fake, chan), what="the vote")
    drafted = next(b for b in reversed(sent_bodies(taleweaver)) if b.get("n") == 2)
    assert "You voted" in await answer(await fake.click(alice, vote, label="Option 2"))
    result = await taleweaver.wait(lambda: _result(fake, chan, 1), what="the vote result")
    assert "Option 2 wins" in result.content

    vote_id = int(vote.custom_ids[0].split(":")[2])
    assert taleweaver.bot is not None
    async with taleweaver.bot.db.read() as conn:
        pairs = await repo.pairs_for_vote(conn, vote_id)
    options = json.loads((await rows(taleweaver, "SELECT options FROM story_votes WHERE id = ?", vote_id))[0][0])
    assert [(p.source, p.chosen, p.rejected) for p in pairs] == [("vote", options[1], options[0])]
    assert pairs[0].prompt == drafted["messages"], "the exact prompt the takes were drafted from"
    up, _ = rating_ids(result)
    winner = await rows(taleweaver, "SELECT text, approved_at IS NOT NULL FROM feedback_items WHERE id = ?",
                        int(up.rsplit(":", 1)[1]))  # fmt: skip
    assert winner == [(options[1], 1)], "the chosen take is an approved narration, with its own rating buttons"
    assert len(narrations(fake, chan)) >= 2


async def test_the_export_honours_consent_and_scrubs(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, tmp_path: Path
) -> None:
    """Poems saved before the moderators opted in are never exported; those after are, scrubbed."""
    mention = f"<@{world.bob.id}>"
    _, early = await write_poem(taleweaver, world, topic=f"the sea, for {mention}", form="haiku")
    await (await fake.click(world.alice, early, custom_id=f"poem:save:{poem_id(early)}")).wait_followups(1)

    consent = await fake.invoke(world.mod, world.channel, "config set", key="training_consent", value="true")
    await consent.wait_acknowledged(timeout=3)
    assert consent.ephemeral

    _, later = await write_poem(taleweaver, world, topic=f"a lantern, for {mention}", form="haiku")
    await (await fake.click(world.alice, later, custom_id=f"poem:save:{poem_id(later)}")).wait_followups(1)
    up, _ = rating_ids(later)
    await rate(fake, world.bob, later, up)

    out = tmp_path / "sft.jsonl"
    argv = ["export", "--out", str(out), "--db", str(taleweaver.db_path), "--quiet"]
    assert await asyncio.to_thread(dataset_main, argv) == 0
    text = out.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == 1, text
    prompt = json.dumps(records[0]["messages"][:-1], ensure_ascii=False)
    assert "a lantern, for someone" in prompt and "the sea" not in text, "only what was written with consent"
    assert str(world.bob.id) not in text and "<@" not in text, "mentions and ids scrubbed"
    assert records[0]["meta"] == {"server": str(world.guild.id), "feature": "poem (saved)"}
    assert load(out, "sft"), "engine.finetune reads it"
