"""/config end to end: real discord.py against the loopback Discord, the real bot and a real SQLite file."""

from __future__ import annotations

from tests.e2e.conftest import BotHandle, World
from tests.e2e.test_stories import answer
from tests.fakediscord import FakeDiscord


async def test_a_non_moderator_is_refused_and_nothing_changes(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    assert taleweaver.bot is not None
    for command, options in (
        ("config set", {"key": "poems_enabled", "value": "false"}),
        ("config show", {}),
        ("config reset", {"key": "poems_enabled"}),
        ("config history", {}),
    ):
        refused = await fake.invoke(world.alice, world.channel, command, **options)
        shown = await answer(refused)
        assert refused.ephemeral and "Only moderators" in shown, (command, shown)
    assert (await taleweaver.bot.config.resolve(world.guild.id, world.channel.id)).poems_enabled is True
    assert not (await taleweaver.bot.config.history(world.guild.id)).entries

    # The configured moderator role is enough (no Manage Server needed).
    storykeepers = fake.add_role(world.guild, "Storykeepers")
    fake.set_roles(world.guild, world.cara, [storykeepers])
    await answer(await fake.invoke(world.mod, world.channel, "settings moderator-role", role=storykeepers))
    done = await answer(await fake.invoke(world.cara, world.channel, "config set", key="poems_cooldown", value="15"))
    assert "`poems_cooldown` is now 15s server-wide" in done, done


async def test_a_channel_override_wins_and_its_threads_inherit_it(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    mod, chan = world.mod, world.channel
    thread = fake.add_thread(chan, "side quest")
    await fake.wait_for(lambda: taleweaver.bot and taleweaver.bot.get_channel(thread.id), what="thread cached")
    await answer(await fake.invoke(mod, chan, "config set", key="poems_enabled", value="on"))
    done = await answer(await fake.invoke(mod, chan, "config set", key="poems_enabled", value="off", channel=chan))
    assert "is now off in #tavern (was on)" not in done and "is now off in #tavern" in done, done

    in_thread = await (await fake.invoke(mod, thread, "config show")).wait_original()
    poems = next(f["value"] for f in in_thread.embeds[0]["fields"] if "Poems" in f["name"])
    assert "`poems_enabled` = off · *parent channel*" in poems, poems
    elsewhere = await (await fake.invoke(mod, chan, "config show", channel=world.other_channel)).wait_original()
    poems = next(f["value"] for f in elsewhere.embeds[0]["fields"] if "Poems" in f["name"])
    assert "`poems_enabled` = on · *server*" in poems, poems

    # And the override is obeyed: /poem in the thread is refused, privately, before any generation.
    assert taleweaver.proxy is not None
    asked = taleweaver.proxy.completions
    refused = await fake.invoke(world.alice, thread, "poem", topic="rain")
    shown = await answer(refused)
    assert refused.ephemeral and "Poems are turned off" in shown, shown
    assert taleweaver.proxy.completions == asked


async def test_mature_is_refused_outside_age_restricted_channels(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    assert taleweaver.bot is not None
    mod, chan = world.mod, world.channel
    refused = await answer(
        await fake.invoke(mod, chan, "config set", key="content_rating", value="mature", channel=chan)
    )
    assert "only in age-restricted channels" in refused, refused
    cellar = fake.add_channel(world.guild, "cellar", nsfw=True)
    await fake.wait_for(lambda: taleweaver.bot and taleweaver.bot.get_channel(cellar.id), what="channel cached")
    accepted = await answer(
        await fake.invoke(mod, chan, "config set", key="content_rating", value="mature", channel=cellar)
    )
    assert "is now mature in #cellar" in accepted, accepted
    config = taleweaver.bot.config
    assert (await config.resolve(world.guild.id, cellar.id, nsfw=True)).content_rating == "mature"
    assert (await config.resolve(world.guild.id, chan.id)).content_rating == "sfw"


async def test_invalid_values_get_a_specific_private_error(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    mod, chan = world.mod, world.channel
    for key, value, says in (
        ("temperature", "9", "from 0 to 2"),
        ("blocked_output_action", "burn", "one of: redact, withhold"),
        ("blocked_words", "grue", None),
        ("nonsense", "1", "no setting called"),
        ("model_adapter", "no-such-adapter", "The engine has no model or adapter called"),  # asked /v1/models
    ):
        ix = await fake.invoke(mod, chan, "config set", key=key, value=value)
        shown = await answer(ix)
        assert ix.ephemeral, shown
        if says:
            assert "⚠️" in shown and says in shown, shown
    server_wide = await answer(
        await fake.invoke(mod, chan, "config set", key="blocked_words", value="grue", channel=chan)
    )
    assert "server-wide" in server_wide, server_wide


async def test_autocomplete_offers_keys_and_typed_values(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    keys = await fake.autocomplete(world.mod, world.channel, "config set", focused="key", key="cool")
    assert {c["value"] for c in keys} == {"poems_cooldown", "stories_cooldown", "lore_cooldown"}, keys
    values = await fake.autocomplete(
        world.mod, world.channel, "config set", focused="value", key="content_rating", value=""
    )
    assert [c["value"] for c in values] == ["sfw", "mature"], values
    flags = await fake.autocomplete(world.mod, world.channel, "config set", focused="value", key="active", value="")
    assert [c["value"] for c in flags] == ["true", "false"], flags


async def test_settings_survive_a_restart_and_the_history_pages_them(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    mod, chan = world.mod, world.channel
    await answer(await fake.invoke(mod, chan, "config set", key="style_note", value="Keep it gothic."))
    await answer(await fake.invoke(mod, chan, "config set", key="story_starter_role", role=world.keepers))
    await answer(await fake.invoke(mod, chan, "config set", key="lore_enabled", value="off", channel=chan))
    bot = await taleweaver.restart()
    snap = await bot.config.resolve(world.guild.id, chan.id)
    assert (snap.style_note, snap.story_starter_role, snap.lore_enabled) == (
        "Keep it gothic.", world.keepers.id, False,
    )  # fmt: skip
    history = await (await fake.invoke(mod, chan, "config history")).wait_original()
    text = history.embeds[0]["description"]
    lines = text.split("\n")
    assert len(lines) == 3 and "**config.set**" in lines[0] and "key: `lore_enabled`" in lines[0], text
    assert f"channel: <#{chan.id}>" in lines[0] and "after: off" in lines[0], text
    assert "after: **Keepers**" in lines[1] and "<@&" not in text, text
    assert "Page 1 of 1 · 3 changes" in history.embeds[0]["footer"]["text"]


async def test_an_allowlist_and_who_may_start_stories(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    mod, chan, elsewhere = world.mod, world.channel, world.other_channel
    await answer(await fake.invoke(mod, chan, "config set", key="active", value="off"))
    await answer(await fake.invoke(mod, chan, "config set", key="active", value="on", channel=chan))
    tellers = fake.add_role(world.guild, "Tellers")  # no permissions: starts stories by the setting alone
    await answer(await fake.invoke(mod, chan, "config set", key="story_starter_role", role=tellers))

    outside = await fake.invoke(world.alice, elsewhere, "story start", title="T", genre="g", premise="p")
    assert "not active in this channel" in await answer(outside)
    refused = await fake.invoke(world.alice, chan, "story start", title="T", genre="g", premise="p")
    shown = await answer(refused)
    assert refused.ephemeral and "Only members with the" in shown and "can start stories here" in shown, shown
    fake.set_roles(world.guild, world.bob, [tellers])
    opened = await fake.invoke(world.bob, chan, "story start", title="T", genre="g", premise="p")
    lobby = await opened.wait_original()
    assert not opened.ephemeral and lobby.embeds, "a member with the role opens the lobby"
    assert not any(m.pinged_roles for m in fake.messages(chan)), "the role named in the refusal is never pinged"
