"""Hostile names and text in a whole game: nothing the bot sends echoes a mention or a direction control.

The real bot, the real engine and a real SQLite file behind the loopback Discord. Every message, edit,
embed and file the bot produces is scanned; the only mentions allowed are the bot's own references to
the players (and the one deliberate ping of whoever's turn it is).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from bot.moderation import Actor
from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_stories import answer, wait_turn_ping
from tests.fakediscord import Channel, FakeDiscord, Message
from tests.support.engine_proxy import EngineProxy

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ARABIC, HEBREW = "نادية", "שָׁלוֹם"
MENTION = re.compile(r"<@(?:(\d+)>)?")


def bot_texts(fake: FakeDiscord, channel: Channel) -> Iterator[tuple[Message, str]]:
    """Every string the bot put in the channel: each version's content and embeds, and every file."""
    for message in fake.messages(channel, include_deleted=True):
        if not message.author.bot:
            continue
        for version in message.history:
            yield message, version.content
            for embed in version.embeds:
                yield message, json.dumps(embed, ensure_ascii=False)
        for attachment in message.attachments:
            yield message, attachment.text


def unmeant(text: str, players: set[int]) -> list[str]:
    """Mentions and direction controls the bot did not mean to write."""
    found = re.findall(r"@everyone|@here|<@&", text, re.IGNORECASE)
    found += [m.group(0) for m in MENTION.finditer(text) if not m.group(1) or int(m.group(1)) not in players]
    found += [f"U+{ord(c):04X}" for c in text if c in BIDI]
    return found


async def test_hostile_names_and_text_reach_no_message_raw(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, proxy: EngineProxy
) -> None:
    """The narrator is not what is under test: its opening is set (hostile too), so a busy machine's
    slow engine does not decide the outcome. Model text is echoed by the same helper (test_streaming)."""
    assert taleweaver.bot is not None
    chan, role = world.channel, world.keepers
    victim = world.cara  # never plays: any mention of her is echoed user text
    eve = fake.add_user("eve", global_name="@everyone")  # the starter joins under her display name
    bob, ada = world.bob, world.alice
    fake.add_member(world.guild, eve)
    players = {eve.id, bob.id, ada.id}
    hostile = f"@everyone @here <@&{role.id}> <@{victim.id}> <@!{victim.id}> \u202eevil\u202c"

    ix = await fake.invoke(
        eve, chan, "story start", title=f"@here <@&{role.id}> Tale\u202e", genre="@everyone noir",
        premise=f"{hostile} {ARABIC} {HEBREW}", turn_timeout="10s",
    )  # fmt: skip
    lobby = await ix.wait_original()
    joined = await fake.invoke(bob, chan, "story join", character="Nadia\u202eeman laer")
    assert "joins the story as **Nadiaeman laer**" in await answer(joined)
    joined = await fake.invoke(ada, chan, "story join", character=f"{ARABIC}\u2067 <@{victim.id}>\u2069")
    assert f"joins the story as **{ARABIC} <\u200b@{victim.id}" in await answer(joined)
    proxy.mode = "refuse"  # the engine's opening fails at once; the set one below takes its place
    await (await fake.click(eve, fake.message_by_id[lobby.id], label="Start")).wait_acknowledged()
    await fake.wait_for(lambda: any("/story retry" in m.content for m in fake.messages(chan)), timeout=60)
    service, runner = taleweaver.bot.stories, taleweaver.bot.get_cog("Stories").runner  # type: ignore[union-attr]
    retried = await service.retry(chan.id, Actor.of(eve.id, world.guild.id, False, ()))
    opening = f"The lamps dim. {hostile} {HEBREW}."
    await runner.apply(await service.complete_narration(await service.plan_narration(retried.story.id), [opening]))

    early = await fake.invoke(bob, chan, "story add", text="Out of turn!")
    assert "waiting for **@\u200beveryone**" in await answer(early)
    await fake.wait_for(  # eve lets her 10 seconds run out
        lambda: any("Time ran out for **@\u200beveryone**" in m.content for m in fake.messages(chan)), timeout=60
    )
    await wait_turn_ping(taleweaver, chan, bob, after=lobby.id)
    await answer(await fake.invoke(bob, chan, "story add", text=f"{hostile} I say {HEBREW}."))
    await answer(await fake.invoke(bob, chan, "story edit", text=f"{hostile} I whisper {HEBREW}."))
    await answer(await fake.invoke(ada, chan, "story pin", fact=hostile))
    await answer(await fake.invoke(ada, chan, "story pins"))
    await answer(await fake.invoke(eve, chan, "story note", text=hostile))
    await answer(await fake.invoke(eve, chan, "lore add", keys=f"@everyone, <@&{role.id}>", content=hostile))
    await answer(await fake.invoke(eve, chan, "lore list"))
    await answer(await fake.invoke(ada, chan, "story status"))
    await answer(await fake.invoke(eve, chan, "story end"))
    await fake.wait_for(lambda: any(m.content.startswith("🏁 **The End**") for m in fake.messages(chan)), timeout=30)
    exported = await fake.invoke(bob, chan, "story export", format="text")
    await exported.wait_acknowledged()
    await exported.wait_original(timeout=15)

    texts = list(bot_texts(fake, chan))
    problems = [(m.id, bad, text[:120]) for m, text in texts for bad in unmeant(text, players)]
    assert not problems, problems
    everything = "\n".join(text for _, text in texts)
    assert "**Nadiaeman laer** · round 1\n@\u200beveryone" in everything, "bidi-free name in the turn header"
    assert f"I whisper {HEBREW}." in everything and ARABIC in everything, "right-to-left text is intact"
    end = next(m for m in fake.messages(chan) if m.content.startswith("🏁 **The End**"))
    assert f"I whisper {HEBREW}." in end.attachments[0].text and "Nadiaeman laer" in end.attachments[0].text
    for message in fake.messages(chan):  # the one deliberate ping: the player whose turn it is
        assert not message.pinged_roles and not message.pinged_everyone
        assert all(message.content.startswith(f"🎲 <@{user}>, it is your turn") for user in message.pinged_users)
