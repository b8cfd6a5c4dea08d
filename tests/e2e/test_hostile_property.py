"""Hostile-input property suite (issue 9): every slash command, option and modal the bot registers,
driven through the fake Discord with generated hostile text, against the real bot and a real SQLite file.

The commands are read from what the bot registered with (fake) Discord, so a new command is covered
without touching this file. Generation is avoided: the real engine sits behind a proxy that refuses
chat completions, so a command that would write answers with its "not available" message.

Invariants, after every example: no error logged by the bot (an unhandled exception is logged as an
incident), every interaction acknowledged within Discord's 3 s, nobody pinged, `PRAGMA integrity_check`
ok, the rows of another server untouched and nothing of it shown here.

`HYPOTHESIS_PROFILE=long` runs thousands of examples; the default is bounded for `make test`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import lore, poems, stories
from tests.e2e.conftest import BotHandle, World
from tests.fakediscord import FakeDiscord, FakeInteraction
from tests.fakediscord.components import modal_inputs
from tests.support.engine_proxy import EngineProxy

settings.register_profile("default", max_examples=200, deadline=None, database=None, derandomize=True)
settings.register_profile("long", max_examples=3000, deadline=None, database=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")

SUB_COMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
OPTION_LIMIT = 6000  # Discord refuses a string option longer than this, whatever the command says
SECRET = "Zz9OTHERSERVERsecret"  # stored on another server: must never appear here
FIXED = [
    "",
    " ",
    " \t\n  ",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\u202eevil\u202c \u2066x\u2069",
    "e" + "\u0301\u0302\u0303\u0308" * 40,
    "👩‍👩‍👧‍👦🏳️‍🌈🧑🏽‍🚀❤️‍🔥",
    "**bold** __u__ ~~s~~ ||spoiler|| > quote\n# Heading\n- list",
    "```python\nprint('unclosed')",
    "`",
    "@everyone",
    "@here",
    "'; DROP TABLE poems; --",
    '" OR 1=1 --',
    "%s %d %(x)s {0} {name!r} {{}} ${jndi:ldap://x} \\x00",
    "\x00\x07\x1b[31m",
    "</poem:1> <t:0:R> <:emoji:1> <a:anim:2>",
]


@dataclass
class Target:
    path: str  # "story add"
    options: list[dict[str, Any]]


@dataclass
class Run:
    """What the examples share: the world, the bot, the other server's snapshot, the counters."""

    fake: FakeDiscord
    world: World
    handle: BotHandle
    loop: asyncio.AbstractEventLoop
    other_guild: int
    other_rows: list[Any] = field(default_factory=list)
    errors: list[logging.LogRecord] = field(default_factory=list)
    examples: int = 0
    per_command: dict[str, int] = field(default_factory=dict)


def leaves(options: list[dict[str, Any]], prefix: str) -> Iterator[Target]:
    for option in options:
        if option["type"] == GROUP:
            yield from leaves(option.get("options") or [], f"{prefix} {option['name']}")
        elif option["type"] == SUB_COMMAND:
            yield Target(f"{prefix} {option['name']}", option.get("options") or [])


def targets(fake: FakeDiscord, world: World) -> list[Target]:
    found: list[Target] = []
    for command in fake.commands.registered(world.guild) + fake.commands.registered():
        if command.payload.get("type", 1) != 1:
            continue
        subs = [o for o in command.payload.get("options") or [] if o["type"] in (SUB_COMMAND, GROUP)]
        if subs:
            found.extend(leaves(command.payload["options"], command.name))
        else:
            found.append(Target(command.name, command.payload.get("options") or []))
    # A command that needs a file (/npc import's card) gets no generated text to try; hostile card files
    # have their own suite (tests/bot/npcs/test_cards_hostile.py, and e2e in tests/e2e/test_npc_cards.py).
    found = [t for t in found if not any(o["type"] == ATTACHMENT and o.get("required") for o in t.options)]
    return sorted({t.path: t for t in found}.values(), key=lambda t: t.path)


def hostile_text(world: World, other_ids: list[int]) -> st.SearchStrategy[str]:
    ids = [world.alice.id, world.mod.id, world.keepers.id, world.channel.id, world.guild.id, *other_ids]
    mentions = st.sampled_from(ids).flatmap(
        lambda i: st.sampled_from([f"<@{i}>", f"<@!{i}>", f"<@&{i}>", f"<#{i}>", f"<@&{world.guild.id}>"])
    )
    piece = st.one_of(st.sampled_from(FIXED), mentions, st.text(max_size=30))
    return st.one_of(
        piece,
        st.lists(piece, min_size=2, max_size=6).map(" ".join),
        st.sampled_from(FIXED[3:]).map(lambda p: (p * (10_000 // max(1, len(p)) + 1))[:10_000]),
        st.just("x" * 10_000),
    )


def fit(text: str, option: dict[str, Any], limit: int = OPTION_LIMIT) -> str:
    """What a Discord client lets through: within the option's lengths (it pads nothing, so a value
    too short becomes one that is just long enough)."""
    text = text[: min(limit, option.get("max_length") or limit)]
    least = max(option.get("min_length") or 0, 1 if option.get("required") else 0)
    return text if len(text) >= least else (text + "x" * least)[: max(least, len(text))]


def option_value(option: dict[str, Any], world: World, text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    if option.get("choices"):
        return st.sampled_from([c["value"] for c in option["choices"]])
    kind = option["type"]
    if kind == STRING:
        return text.map(lambda t: fit(t, option))
    if kind in (INTEGER, NUMBER):
        low, high = option.get("min_value", -(2**53)), option.get("max_value", 2**53)
        return st.integers(int(low), int(high)) if kind == INTEGER else st.floats(low, high, allow_nan=False)
    if kind == BOOLEAN:
        return st.booleans()
    if kind in (USER, MENTIONABLE):
        return st.sampled_from([world.alice, world.bob, world.mod])
    if kind == CHANNEL:
        return st.sampled_from([world.channel, world.other_channel])
    if kind == ROLE:
        return st.sampled_from([world.keepers, world.guild.default_role])
    return st.nothing()


def invocation(target: Target, world: World, text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    required = {o["name"]: option_value(o, world, text) for o in target.options if o.get("required")}
    optional = {o["name"]: option_value(o, world, text) for o in target.options if not o.get("required")}
    return st.fixed_dictionaries(required, optional=optional)


def baseline(target: Target, world: World) -> dict[str, Any]:
    """Every option of a command filled with one fixed hostile value (the first example it gets)."""
    nasty = f"@everyone @here <@&{world.keepers.id}> <@{world.bob.id}> \u202e```'; DROP TABLE x; -- {{0}} %s"
    values: dict[str, Any] = {}
    for option in target.options:
        if option.get("choices"):
            values[option["name"]] = option["choices"][-1]["value"]
        elif option["type"] == STRING:
            values[option["name"]] = fit(nasty, option)
        elif option["type"] in (INTEGER, NUMBER):
            values[option["name"]] = option.get("max_value", 10**9)
        elif option["type"] == BOOLEAN:
            values[option["name"]] = True
        elif option["type"] in (USER, MENTIONABLE):
            values[option["name"]] = world.bob
        elif option["type"] == CHANNEL:
            values[option["name"]] = world.other_channel
        elif option["type"] == ROLE:
            values[option["name"]] = world.guild.default_role
    return values


async def other_server_rows(handle: BotHandle, guild_id: int) -> list[Any]:
    assert handle.bot is not None
    async with handle.bot.db.read() as conn:
        rows: list[Any] = []
        for table in ("poems", "stories", "lore_entries", "audit_log", "guild_settings"):
            async with conn.execute(f"SELECT * FROM {table} WHERE guild_id = ? ORDER BY rowid", (guild_id,)) as cur:
                rows += [(table, tuple(r)) for r in await cur.fetchall()]
        async with conn.execute(
            "SELECT * FROM story_turns WHERE story_id IN (SELECT id FROM stories WHERE guild_id = ?)", (guild_id,)
        ) as cur:
            rows += [("story_turns", tuple(r)) for r in await cur.fetchall()]
        return rows


async def seed_other_server(handle: BotHandle, guild_id: int, channel_id: int, user_id: int) -> None:
    assert handle.bot is not None
    async with handle.bot.db.transaction() as conn:
        await poems.create(conn, guild_id=guild_id, channel_id=channel_id, author_id=user_id,
                           topic=f"topic {SECRET}", form="haiku", mood="", language="")  # fmt: skip
        await lore.add(conn, guild_id=guild_id, channel_id=channel_id, keys=["alice"], content=f"lore {SECRET}",
                       author_id=user_id, priority=100, now=1.0)  # fmt: skip
        await stories.create(conn, guild_id=guild_id, channel_id=channel_id, starter_id=user_id,
                             title=f"title {SECRET}", genre="g", premise=SECRET, mode="free", turn_timeout=0,
                             max_rounds=0, narrate_every=3, choices=0, now=1.0)  # fmt: skip


async def check_example(run: Run, ix: FakeInteraction) -> None:
    fake = run.fake
    await ix.wait_acknowledged(timeout=30)  # waited for generously; the latency is what is judged
    assert ix.acknowledged and ix.ack_latency is not None and ix.ack_latency < 3.0, ix
    assert not ix.rejected_callbacks, ix.rejected_callbacks
    if ix.modal is not None:
        fields = {cid: fit("x" * 10_000 + FIXED[9], comp, 4000) for cid, comp in modal_inputs(ix.modal).items()}
        submitted = await fake.submit_modal(ix.user, ix, fields)
        await check_example(run, submitted)
    await fake.wait_for(lambda: time.monotonic() - fake.requests[-1].monotonic > 0.05, what="the bot done answering")


async def one_example(run: Run, target: Target, options: dict[str, Any], as_mod: bool) -> None:
    fake, world, handle = run.fake, run.world, run.handle
    user = world.mod if as_mod else world.alice
    ix = await fake.invoke(user, world.channel, target.path, **options)
    await check_example(run, ix)
    assert not run.errors, [r.getMessage() for r in run.errors]
    for message in fake.all_messages():
        assert not message.pinged_everyone and not message.pinged_roles, message
        assert not message.pinged_users or message.content.startswith("🎲"), message
        assert SECRET not in message.text and all(SECRET not in (a.text or "") for a in message.attachments)
    for answer in [i.response_data for i in fake.interactions.values() if i.response_data]:
        assert SECRET not in str(answer)
    assert handle.bot is not None
    async with handle.bot.db.read() as conn:
        async with conn.execute("PRAGMA integrity_check") as cur:
            assert (await cur.fetchone())[0] == "ok"
    assert await other_server_rows(handle, run.other_guild) == run.other_rows, "another server was touched"


class Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.mark.timeout(3600)
async def test_hostile_input_everywhere(
    fake: FakeDiscord, world: World, taleweaver: BotHandle, proxy: EngineProxy
) -> None:
    proxy.mode = "refuse"  # nothing is generated; commands that would generate say the engine is away
    fake.enforce_command_permissions = False  # moderator commands reach the bot from anyone: it must refuse
    other_owner = fake.add_user("stranger")
    other = fake.add_guild("Other Guild", owner=other_owner)
    other_channel = fake.add_channel(other, "elsewhere")
    await seed_other_server(taleweaver, other.id, other_channel.id, other_owner.id)
    run = Run(fake, world, taleweaver, asyncio.get_running_loop(), other.id)
    run.other_rows = await other_server_rows(taleweaver, other.id)
    assert len(run.other_rows) == 3
    found = targets(fake, world)
    assert {"poem", "story start", "story add", "privacy forget-me", "story purge", "help"} <= {t.path for t in found}
    text = hostile_text(world, [other_owner.id, other.id, other_channel.id])
    examples = st.sampled_from(found).flatmap(
        lambda t: st.tuples(st.just(t), invocation(t, world, text), st.booleans())
    )
    handler = Collect(run.errors)
    logging.getLogger().addHandler(handler)

    @settings(settings.get_profile(PROFILE), suppress_health_check=list(HealthCheck))
    @given(examples)
    def property_holds(example: tuple[Target, dict[str, Any], bool]) -> None:
        target, options, as_mod = example
        run.examples += 1
        run.per_command[target.path] = run.per_command.get(target.path, 0) + 1
        future = asyncio.run_coroutine_threadsafe(one_example(run, target, options, as_mod), run.loop)
        future.result(timeout=600)

    began = time.monotonic()
    try:
        for target in found:  # every command once, whatever the random draw covers after
            run.per_command[target.path] = run.per_command.get(target.path, 0) + 1
            await one_example(run, target, baseline(target, world), as_mod=True)
        await asyncio.to_thread(property_holds)  # the event loop stays free for the bot and the fake
    finally:
        logging.getLogger().removeHandler(handler)
    print(
        f"\nhostile-input suite ({PROFILE}): {len(found)} commands once, then {run.examples} generated "
        f"examples ({len(run.per_command)} commands drawn) in {time.monotonic() - began:.1f} s"
    )
