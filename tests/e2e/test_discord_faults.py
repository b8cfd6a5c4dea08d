"""Discord answers 429 (Retry-After, bucket headers, Via) and 500/502/503 on channel sends and edits,
interaction callbacks, webhook edits of the response and webhook posts (follow-ups) (issue 14). Output
is delayed, never lost or posted twice: the real bot, the real engine and model, the loopback Discord.

discord.py retries 429s and 500/502/504 by itself, but raised at once on a 503 from a channel route (a
narration or turn ping lost to a blip); the bot now retries those too (`bot.app._retrying_503`).
"""

from __future__ import annotations

from fakediscord import FakeDiscord, Message
from fakediscord.traffic import Fault
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.e2e.test_poems import poem_id
from tests.e2e.test_stories import NARRATOR, narrations, start_story, wait_narrations, wait_turn_ping

SEND = "/channels/{channel_id}/messages"
EDIT = "/channels/{channel_id}/messages/{message_id}"
CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
HOOK_EDIT = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
HOOK_POST = "/webhooks/{webhook_id}/{webhook_token}"


def arm(fake: FakeDiscord) -> list[Fault]:
    """Every kind of write fails a few times, in a mix of rate limits and server errors."""
    plan = [
        ("POST", SEND, (503, 429, 500)),
        ("PATCH", EDIT, (429, 503, 429)),
        ("POST", CALLBACK, (503,)),  # retried after 1 s: a second fault on the same callback would pass 3 s
        ("PATCH", HOOK_EDIT, (429, 502, 503)),
        ("POST", HOOK_POST, (503, 429)),
    ]
    return [
        fake.fail_next(method, route, status=status, retry_after=0.2)
        for method, route, codes in plan
        for status in codes
    ]


async def test_rate_limits_and_server_errors_delay_output_but_lose_and_double_nothing(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    tavern, library, alice = world.channel, world.other_channel, world.alice
    assert taleweaver.bot is not None
    faults = arm(fake)

    poem_ix = await fake.invoke(alice, library, "poem", topic="a harbour in fog", form="haiku")
    await poem_ix.wait_acknowledged(timeout=3)
    faults.append(fake.fail_next("POST", CALLBACK, status=429, retry_after=0.2))  # for /story start
    await start_story(fake, tavern, alice, [])

    def finished_poem() -> Message | None:
        done = [m for m in fake.messages(library) if m.author.bot and "— for <@" in m.content]
        return done[0] if done else None

    poem = await taleweaver.wait(finished_poem, what="the poem, finished", channel=library)
    number = poem_id(poem)
    stored = (await taleweaver.bot.poems.get(number)).text
    assert stored and stored in poem.content, "the poem as stored is what the channel shows"
    await wait_narrations(taleweaver, tavern, 1)
    await wait_turn_ping(taleweaver, tavern, alice, after=0)

    save = await fake.click(alice, fake.message_by_id[poem.id], label="Save to anthology")
    await save.wait_acknowledged(timeout=3)
    [saved] = await save.wait_followups(count=1, timeout=30)
    assert "Saved to the anthology" in saved.content

    unhit = [f"{f.method} {f.pattern} {f.status}" for f in faults if f.hits < f.times]
    assert not unhit, f"faults never reached: {unhit}"
    assert [m.id for m in fake.messages(library) if m.author.bot and not m.ephemeral] == [poem.id], "one poem message"
    [narration] = narrations(fake, tavern)
    assert len([m for m in fake.messages(tavern) if m.author.bot and NARRATOR in m.content]) == 1
    _, _, turns = await taleweaver.bot.stories.transcript(tavern.id)
    assert [t.kind for t in turns] == ["narrator"], "one narration stored, none lost or doubled"
    assert turns[0].text.split()[-1] in narration.content
    pings = [m for m in fake.messages(tavern) if m.content.startswith(f"🎲 <@{alice.id}>")]
    assert len(pings) == 1, "one turn ping"
    assert not no_pings(fake.messages(tavern) + fake.messages(library))


async def test_a_result_past_the_interaction_token_is_delivered_in_the_channel_naming_who_asked(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    """The token of a /poem expires (401 50027) before the poem is written, as after 15 minutes in line:
    the poem arrives as an ordinary channel message, after one that names who asked, and works as usual."""
    library, alice = world.other_channel, world.alice
    assert taleweaver.bot is not None
    fake.token_lifetime = 0.0  # every use of the token after the callback is refused
    ix = await fake.invoke(alice, library, "poem", topic="a clock tower at midnight", form="haiku")
    await ix.wait_acknowledged(timeout=3)

    def delivered() -> Message | None:
        return next((m for m in fake.messages(library) if m.interaction_id is None and "— for <@" in m.content), None)

    poem = await taleweaver.wait(delivered, what="the poem, posted in the channel", channel=library)
    fake.token_lifetime = 15 * 60.0
    assert ix.original is not None
    [notice] = [m for m in fake.messages(library) if m.interaction_id is None and m.content.startswith("📬")]
    assert f"<@{alice.id}>" in notice.content and "`/poem`" in notice.content and not notice.pinged_users
    assert notice.id < poem.id, "who asked comes first"
    number = poem_id(poem)
    assert (await taleweaver.bot.poems.get(number)).text in poem.content
    assert poem.custom_ids[:3] == [f"poem:{a}:{number}" for a in ("regen", "another", "save")]  # then Delete, 👍/👎
    others = [m for m in fake.messages(library) if m.author.bot and m.id not in (notice.id, poem.id)]
    assert [m.id for m in others] == [ix.original.id], "besides the expired placeholder, nothing else was posted"
    assert_points_at(ix.original, notice)
    save = await fake.click(alice, poem, label="Save to anthology")
    await save.wait_acknowledged(timeout=3)
    assert "Saved to the anthology" in (await save.wait_followups(count=1, timeout=30))[0].content
    assert await taleweaver.bot.unfinished.left_over("poem") == [], "nothing is left marked unfinished"


async def test_a_recap_past_the_interaction_token_is_posted_in_the_channel_naming_who_asked(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    """`/story recap` waits for the engine like a poem does (seen under load: bench.load's 200 commands kept
    recaps in line past 15 minutes, and the bot failed to answer them): past the token, the recap is posted
    in the channel after a line that names who asked."""
    tavern, alice = world.channel, world.alice
    await start_story(fake, tavern, alice, [])
    await wait_narrations(taleweaver, tavern, 1)
    fake.token_lifetime = 0.0
    try:
        ix = await fake.invoke(alice, tavern, "story recap")
        await ix.wait_acknowledged(timeout=3)

        def delivered() -> Message | None:
            return next(
                (m for m in fake.messages(tavern) if m.interaction_id is None and "Previously on" in m.content), None
            )

        recap = await taleweaver.wait(delivered, what="the recap, posted in the channel", channel=tavern)
    finally:
        fake.token_lifetime = 15 * 60.0
    [notice] = [m for m in fake.messages(tavern) if m.interaction_id is None and m.content.startswith("📬")]
    assert f"<@{alice.id}>" in notice.content and "`/story recap`" in notice.content and not notice.pinged_users
    assert notice.id < recap.id, "who asked comes first"
    assert recap.content.startswith("📜 **Previously on**") and not recap.pinged_users
    assert ix.original is not None
    assert_points_at(ix.original, notice)


def assert_points_at(placeholder: Message, notice: Message) -> None:
    """The command's own response, which its expired token can no longer change, is edited through the
    channel to point at the answer (not left "thinking…" or "in line" forever), and the notice replies to it."""
    assert (notice.message_reference or {}).get("message_id") == str(placeholder.id), "the notice replies to it"
    assert not placeholder.loading and placeholder.content.startswith("📬"), placeholder.content
    assert f"/{notice.id}" in placeholder.content, "it links to the notice"
    assert not placeholder.custom_ids, "no Cancel button is left on it"
