"""The server's own Discord AutoMod rules are honoured on generated text (issue 9): a rule made in
Discord (the fake) withholds a poem, its deletion lets the next one through. The fake Discord, the real
bot, the real engine and model, a real SQLite file.

The rule `*e*` (any word with an "e") is one no English poem escapes, so the test needs no knowledge
of what the model writes.
"""

from __future__ import annotations

from fakediscord import FakeDiscord, Message
from fakediscord.permissions import MANAGE_GUILD
from tests.e2e.conftest import BotHandle, World, no_pings

RULES_ROUTE = "/guilds/{guild_id}/auto-moderation/rules"


async def test_an_automod_rule_made_in_discord_is_honoured_on_output(
    fake: FakeDiscord, world: World, taleweaver: BotHandle
) -> None:
    bot, guild = taleweaver.bot, world.guild
    assert bot is not None
    # Any visible character breaks it, so whatever the model writes first is already withheld (a rule on
    # one letter let a first word without it, "As", be shown: that depended on what the model wrote).
    rule = fake.add_automod_rule(guild, "No letter e", keywords=["*e*"], regex=[r"\S"])

    # Without Manage Server the bot may not read the rules: it skips them quietly, asking nothing.
    assert await bot.automod.check(guild.id, "the sea") is None
    assert not [r for r in fake.requests if r.route == RULES_ROUTE]

    readers = fake.add_role(guild, "Rule readers", permissions=MANAGE_GUILD)
    fake.set_roles(guild, fake.bot, [fake.bot_role(guild), readers])
    await fake.wait_for(lambda: bot.get_guild(guild.id).me.guild_permissions.manage_guild, what="the new role")

    ix = await fake.invoke(world.alice, world.channel, "poem", topic="the sea at evening", form="haiku")
    await ix.wait_acknowledged(timeout=3)

    def settled() -> Message | None:
        message = ix.original
        ids = message.custom_ids if message is not None else []
        return message if ids and not any(c.startswith("cancel:") for c in ids) else None

    poem = await taleweaver.wait(settled, what="the poem settled")
    assert "withheld" in poem.content.lower() and "No letter e" in poem.content, poem.content
    header = "**Haiku** · *the sea at evening*"
    for version in poem.history:  # never shown, not even while streaming: header and status only
        body = version.content.removeprefix(header).strip()
        assert "\n" not in body, f"generated text was shown: {version.content!r}"
    number = int(poem.custom_ids[0].rsplit(":", 1)[1])
    assert (await bot.poems.get(number)).text == "", "nothing withheld is stored"
    assert [r.status for r in fake.requests if r.route == RULES_ROUTE] == [200], "read once, then cached"

    fake.remove_automod_rule(rule)  # AUTO_MODERATION_RULE_DELETE reaches the bot before the click
    regen = await fake.click(world.alice, poem, custom_id=f"poem:regen:{number}")
    await regen.wait_acknowledged(timeout=3)
    await taleweaver.wait(lambda: f"poem #{number}" in poem.content and settled(), what="the poem, now allowed")
    assert (await bot.poems.get(number)).text, "without the rule the poem is written and stored"
    assert not no_pings(fake.messages(world.channel))
