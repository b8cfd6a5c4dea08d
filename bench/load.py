"""A burst of slash commands through the loopback Discord against the real engine (issue 14).

    python -m bench.load                         # 200 commands, 50 users, 20 channels, 5 servers
    python -m bench.load --commands 60 --users 20 --channels 8 --servers 2     # a quick run

The real bot (discord.py) runs in this process against `fakediscord/`, with a real SQLite file and
the real engine (`python -m engine`, default model, started here). Each channel has a free-mode story
(opened through the service, so the burst starts with the stories under way; the narrator answers every
third turn). Then every command is fired at once: 40 % `/poem` (haiku: small), 50 % `/story add`, 10 %
`/story recap`, shuffled (fixed seed), spread round-robin over the channels and their players. Measured:

- acknowledged within 3 s (Discord's limit; the fake's own check is off so late ones are counted, not lost);
- every command completed or clearly refused (an answer that says why), none left unanswered or spinning;
  a command that waited past its token's 15 minutes counts as completed when the bot posted its answer in
  the channel after a notice naming who asked (reported separately);
- fairness: each server's share of the generations completed while every server still had some pending
  (max/min share; 1.0 is perfectly even);
- time to first streamed text of the poems, p50/p95, and the same for one poem alone before the burst
  (the baseline of the same run: the ratio is the cost of the burst);
- this process's memory (bot + loopback Discord) before and after; SQLite write (BEGIN..COMMIT) p95.

Prints one JSON object on stdout, then a one-line summary. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from bot.app import Taleweaver
from bot.llm.client import EngineClient
from bot.moderation import Actor
from bot.settings import Settings
from bot.stories.rules import StoryOptions
from bot.streaming import BUSY, DRAFTING, WAITING, WRITING
from fakediscord import Channel, FakeDiscord, FakeInteraction, Message, User
from storage.db import Database
from tests.support.engine_proc import start_engine

NARRATOR = "📖 **The narrator**"
ACK_LIMIT_S = 3.0


def log(message: str) -> None:
    print(f"[bench.load] {message}", file=sys.stderr, flush=True)


def spinning(content: str) -> bool:
    return WRITING in content or WAITING in content or BUSY in content or DRAFTING in content


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class World:
    def __init__(self, fake: FakeDiscord, servers: int, channels: int, users: int) -> None:
        self.fake = fake
        self.guild_of: dict[int, int] = {}  # channel id -> guild id
        self.players: dict[int, list[User]] = {}  # channel id -> its story's players
        owner = fake.add_user("owner")
        guilds = [fake.add_guild(f"Server {g}", owner=owner) for g in range(servers)]
        self.channels: list[Channel] = []
        for c in range(channels):
            guild = guilds[c % servers]
            channel = fake.add_channel(guild, f"tale-{c}")
            self.channels.append(channel)
            self.guild_of[channel.id] = guild.id
            self.players[channel.id] = []
        for u in range(users):
            user = fake.add_user(f"user{u}")
            channel = self.channels[u % channels]
            fake.add_member(fake.guilds[self.guild_of[channel.id]], user)
            self.players[channel.id].append(user)


async def open_stories(bot: Taleweaver, world: World) -> None:
    """A free-mode story in every channel, past its (set) opening: the burst's turns go straight in."""
    service = bot.stories
    for channel in world.channels:
        starter, *others = world.players[channel.id]
        options = StoryOptions(f"Tale of {channel.name}", "fable", "A lantern is found.", mode="free", narrate_every=3)
        story = await service.create(world.guild_of[channel.id], channel.id, starter.id, starter.name, options)
        for user in others:
            await service.join(story.id, user.id, user.name)
        await service.begin(story.id, Actor.of(starter.id, world.guild_of[channel.id], False, ()))
        await service.complete_narration(await service.plan_narration(story.id), ["The lantern glows in the dark."])


def commands(world: World, count: int) -> list[tuple[User, Channel, str, dict[str, Any]]]:
    # The kinds are shuffled (with a fixed seed), not cycled: cycled by i % 10 beside channels by i % 20 on
    # servers by channel % 5, one server never got a poem, and fairness across servers measured nothing.
    kinds = [i % 10 for i in range(count)]
    random.Random(14).shuffle(kinds)
    plan = []
    for i, kind in enumerate(kinds):
        channel = world.channels[i % len(world.channels)]
        players = world.players[channel.id]
        user = players[(i // len(world.channels)) % len(players)]
        if kind < 4:
            plan.append((user, channel, "poem", {"topic": f"lantern number {i}", "form": "haiku"}))
        elif kind < 9:
            plan.append((user, channel, "story add", {"text": f"{user.name} lifts the lantern higher ({i})."}))
        else:
            plan.append((user, channel, "story recap", {}))
    return plan


def late_answers(fake: FakeDiscord, ixs: list[FakeInteraction]) -> set[int]:
    """The commands whose token expired while they waited (Discord allows 15 minutes) and whose answer the
    bot then posted in the channel, after a "📬 @user: your `/command` took longer…" notice that replies to
    the command's own response (one per command)."""
    replied = {
        int(m.message_reference["message_id"])
        for m in fake.all_messages()
        if m.author.bot and m.interaction_id is None and m.content.startswith("📬 <@") and m.message_reference
    }
    return {ix.id for ix in ixs if ix.original is not None and ix.original.id in replied}


def outcome(fake: FakeDiscord, ix: FakeInteraction, late: frozenset[int] | set[int] = frozenset()) -> str:
    """pending, completed, late (completed in the channel after the token expired) or refused (an answer
    that says why)."""
    if ix.id in late:
        return "late"
    if not ix.acknowledged:
        return "pending"
    if ix.response_type == 4:  # answered at once: a refusal (private) or the turn itself
        return "refused" if ix.ephemeral else "completed"
    original = ix.original
    if original is None or original.loading or spinning(original.content):
        return "pending"
    done = "— for <@" in original.content or "Previously on" in original.content
    return "completed" if done else "refused"


def answer_text(ix: FakeInteraction) -> str:
    """What the user was told: the immediate answer, or the deferred response as it stands."""
    if ix.response_type == 4:
        return str((ix.response_data or {}).get("content") or "")
    return ix.original.content if ix.original is not None else ""


def gist(text: str) -> str:
    """A refusal or a stuck message, shortened to what kind of answer it is (ids and numbers dropped)."""
    words = " ".join(text.split())
    return "".join("#" if c.isdigit() else c for c in words)[:90]


def finished_at(message: Message) -> float | None:
    """When the message stopped claiming to be written (its first settled version)."""
    for version in message.history:
        if not spinning(version.content) and version.content.strip():
            return version.at.timestamp()
    return None


def first_text_at(message: Message) -> float | None:
    """When the first words showed: streamed text, or for a checked form (drafted behind a progress line,
    the best draft shown whole) the finished poem."""
    for version in message.history:
        body = version.content.split("\n\n", 1)[-1]
        if WRITING in version.content and body.replace(WRITING, "").strip():
            return version.at.timestamp()
    return finished_at(message)


async def settle(fake: FakeDiscord, ixs: list[FakeInteraction], idle_limit: float) -> None:
    """Until every command is answered and no message is still being written; give up only when nothing
    has moved for `idle_limit` seconds."""
    loop = asyncio.get_running_loop()
    seen, still_since = len(fake.requests), loop.time()
    while True:
        late = late_answers(fake, ixs)
        stale = {ix.original.id for ix in ixs if ix.id in late and ix.original is not None}  # token can't edit
        pending = sum(outcome(fake, ix, late) == "pending" for ix in ixs)
        writing = sum(1 for m in fake.all_messages() if m.author.bot and spinning(m.content) and m.id not in stale)
        if not pending and not writing:
            return
        if len(fake.requests) != seen:
            seen, still_since = len(fake.requests), loop.time()
        elif loop.time() - still_since > idle_limit:
            log(f"nothing moved for {idle_limit:.0f} s: {pending} commands pending, {writing} messages spinning")
            return
        await asyncio.sleep(0.5)


async def alone(fake: FakeDiscord, world: World) -> float | None:
    """Time to first streamed text of one poem with nothing else going on: the baseline."""
    channel = world.channels[0]
    began = time.time()
    ix = await fake.invoke(world.players[channel.id][0], channel, "poem", topic="a quiet harbour", form="haiku")
    await settle(fake, [ix], idle_limit=120)
    first = first_text_at(ix.original) if ix.original else None
    return None if first is None else first - began


def fairness(fake: FakeDiscord, world: World, began: float) -> dict[str, Any]:
    """Generations (poems and narrations) completed per server while every server still had work."""
    done: dict[int, list[float]] = {g: [] for g in set(world.guild_of.values())}
    for message in fake.all_messages():
        if message.channel_id not in world.guild_of or not message.author.bot:
            continue
        generated = "— for <@" in message.content or message.content.startswith(NARRATOR)
        if generated:
            at = finished_at(message)
            if at is not None and at > began:
                done[world.guild_of[message.channel_id]].append(at)
    if not all(done.values()):
        return {"per_server": {str(g): len(v) for g, v in done.items()}, "max_min_share": None}
    window_end = min(max(times) for times in done.values())  # the first server to run out of work
    counts = {g: sum(t <= window_end for t in times) for g, times in done.items()}
    least = min(counts.values())
    return {
        "per_server": {str(g): len(v) for g, v in done.items()},
        "while_all_busy": {str(g): c for g, c in counts.items()},
        "max_min_share": round(max(counts.values()) / least, 2) if least else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    handler = logging.FileHandler(tmp / "bot.log")  # the bot's own log: why a command went unanswered
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("discord").setLevel(logging.WARNING)
    log(f"starting the engine (default model); the bot logs to {tmp / 'bot.log'}")
    engine = start_engine(tmp / "engine")
    try:
        async with FakeDiscord() as fake, Database.open(tmp / "taleweaver.db") as db:
            fake.ack_deadline = None  # late acknowledgements are measured here, not refused
            fake.token_lifetime = args.token_lifetime
            world = World(fake, args.servers, args.channels, args.users)
            settings = Settings(
                discord_token=fake.token, database_path=tmp / "taleweaver.db", engine_url=engine.url,
                narration_tokens=args.narration_tokens, engine_timeout=3600,
            )  # fmt: skip
            async with EngineClient(engine.url, timeout=3600) as client:
                bot = Taleweaver(settings=settings, db=db, engine=client, guild_ready_timeout=0.05)
                task = asyncio.create_task(bot.start(fake.token))
                try:
                    await fake.wait_ready(timeout=60)
                    await fake.wait_commands_synced(None, timeout=60)
                    await asyncio.wait_for(bot.wait_until_ready(), 60)
                    return await burst(fake, bot, world, args)
                finally:
                    await bot.close()
                    await task
    finally:
        engine.stop()


async def burst(fake: FakeDiscord, bot: Taleweaver, world: World, args: argparse.Namespace) -> dict[str, Any]:
    await open_stories(bot, world)
    log("one poem alone (the baseline)")
    baseline = await alone(fake, world)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    writes_before = len(bot.db.write_seconds)
    plan = commands(world, args.commands)
    log(f"the burst: {len(plan)} commands")
    began = time.time()
    sent_at: dict[int, float] = {}

    async def fire(user: User, channel: Channel, name: str, options: dict[str, Any]) -> FakeInteraction:
        at = time.time()
        ix = await fake.invoke(user, channel, name, **options)
        sent_at[ix.id] = at
        return ix

    ixs = await asyncio.gather(*(fire(*command) for command in plan))
    await settle(fake, ixs, idle_limit=args.idle_limit)
    elapsed = time.time() - began
    health = await bot.engine.health()  # at the end (or the stall): is anything still in the engine?
    rss_after = process.memory_info().rss
    late = late_answers(fake, ixs)
    outcomes = Counter(outcome(fake, ix, late) for ix in ixs)
    acks = [ix.ack_latency for ix in ixs if ix.ack_latency is not None]
    ttft = [
        first - sent_at[ix.id]
        for ix in ixs
        if ix.command_name == "poem" and ix.original is not None and (first := first_text_at(ix.original)) is not None
    ]
    writes = list(bot.db.write_seconds)[writes_before:]
    said = {kind: Counter(gist(answer_text(ix)) for ix in ixs if outcome(fake, ix, late) == kind) for kind in outcomes}
    p50 = percentile(ttft, 0.5)
    return {
        "commands": len(plan),
        "servers": args.servers,
        "channels": args.channels,
        "users": args.users,
        "elapsed_s": round(elapsed, 1),
        "acknowledged_within_3s": sum(a <= ACK_LIMIT_S for a in acks),
        "ack_misses": len(plan) - sum(a <= ACK_LIMIT_S for a in acks),
        "ack_p95_s": _round(percentile(acks, 0.95), 3),
        "completed": outcomes["completed"] + outcomes["late"],
        "completed_in_channel_after_15_min": outcomes["late"],
        "refused": outcomes["refused"],
        "unanswered": outcomes["pending"],
        "refusals": dict(said.get("refused", Counter()).most_common(8)),  # what the refused were told
        "unanswered_show": dict(said.get("pending", Counter()).most_common(8)),  # what the stuck ones show
        "engine_at_end": {"running": health.running, "queue_depth": health.queue_depth, "status": health.status},
        "narrations": sum(1 for m in fake.all_messages() if m.author.bot and m.content.startswith(NARRATOR)),
        "fairness": fairness(fake, world, began),
        "ttft_poem_p50_s": _round(p50, 2),
        "ttft_poem_p95_s": _round(percentile(ttft, 0.95), 2),
        "ttft_poem_alone_s": _round(baseline, 2),
        "ttft_p50_vs_alone": _round(p50 / baseline if p50 and baseline else None, 1),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_after_mb": round(rss_after / 2**20, 1),
        "sqlite_writes": len(writes),
        "sqlite_write_p95_ms": _round((percentile(writes, 0.95) or 0) * 1000, 2),
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summary(r: dict[str, Any]) -> str:
    share = r["fairness"].get("max_min_share")
    return (
        f"bench.load: {r['commands']} commands / {r['servers']} servers in {r['elapsed_s']} s: "
        f"{r['ack_misses']} acks over 3 s, {r['completed']} completed ({r['completed_in_channel_after_15_min']} "
        f"in the channel past the 15-minute token), {r['refused']} refused, "
        f"{r['unanswered']} unanswered; fairness max/min {share}; poem TTFT p50 {r['ttft_poem_p50_s']} s "
        f"p95 {r['ttft_poem_p95_s']} s ({r['ttft_p50_vs_alone']}x alone); RSS {r['rss_before_mb']}→"
        f"{r['rss_after_mb']} MB; SQLite write p95 {r['sqlite_write_p95_ms']} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--narration-tokens", type=int, default=24, help="the narrator's longest part (16 or more)")
    parser.add_argument("--idle-limit", type=float, default=300.0, help="give up after this long without progress")
    parser.add_argument(
        "--token-lifetime", type=float, default=15 * 60.0, help="how long an interaction token answers (Discord: 900 s)"
    )
    args = parser.parse_args(argv)
    if args.users < args.channels or args.channels < args.servers:
        parser.error("every channel needs a player and every server a channel: users >= channels >= servers")
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    print(summary(result))
    return 0 if result["unanswered"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
