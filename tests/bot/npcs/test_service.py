"""bot.npcs.service and bot.npcs.conversation without Discord: the permission rule, checks, the rate limit,
replies through a scripted engine (stops sent, cleaning applied, memory written), summaries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from bot.engine_client import EngineClient
from bot.errors import Conflict, NotAllowed, NotFound
from bot.moderation import Actor, ModerationService
from bot.npcs.conversation import ChannelRate, NpcConversation, RateLimited
from bot.npcs.model import Npc
from bot.npcs.service import NpcService
from bot.text import InputProblem
from storage import guilds, npc_memory
from storage.db import Database
from tests.bot.conftest import StartServer

GUILD = 7


def actor(user_id: int, *, manage: bool = False) -> Actor:
    return Actor.of(user_id, GUILD, manage, ())


async def test_anyone_creates_only_creator_or_moderator_changes(db: Database) -> None:
    service = NpcService(db, ModerationService(db))
    mira = await service.create(actor(1), Npc(name=" Mira\u200b ", description="A seer.", creator_id=999))
    assert mira.name == "Mira" and mira.creator_id == 1, "the creator is whoever made it, not what a card says"
    with pytest.raises(Conflict, match="already has an NPC called"):
        await service.create(actor(2), Npc(name="MIRA"))
    with pytest.raises(NotAllowed, match="creator or a moderator"):
        await service.edit(actor(2), "mira", scenario="Stolen.")
    with pytest.raises(NotAllowed):
        await service.delete(actor(2), "Mira")
    edited = await service.edit(actor(1), "mira", scenario="The marsh.")
    assert edited.scenario == "The marsh."
    await service.edit(actor(3, manage=True), "Mira", name="Old Mira")  # a moderator, audited
    async with db.read() as conn:
        assert [e.action for e in await guilds.recent_audit(conn, GUILD)] == ["npc.edit"]
    with pytest.raises(NotFound):
        await service.get(GUILD, "Mira")
    assert (await service.delete(actor(1), "old mira")).name == "Old Mira"
    assert await service.for_guild(GUILD) == []


@pytest.mark.parametrize(
    ("npc", "problem"),
    [
        (Npc(name="Clyde"), "clyde"),
        (Npc(name="Mira", avatar_url="javascript:alert(1)"), "https://"),
        (Npc(name="Mira", first_mes="x" * 4001), "greeting"),
        (Npc(name="Mira", tags=tuple(str(i) for i in range(51))), "at most 50"),
    ],
)
async def test_bad_fields_change_nothing(db: Database, npc: Npc, problem: str) -> None:
    service = NpcService(db, ModerationService(db))
    with pytest.raises(InputProblem, match=problem):
        await service.create(actor(1), npc)
    assert await service.for_guild(GUILD) == []


def test_rate_limit_is_per_channel_and_slides() -> None:
    now = [0.0]
    rate = ChannelRate(2, 10.0, clock=lambda: now[0])
    rate.take(1)
    rate.take(1)
    rate.take(2)  # another channel has its own allowance
    with pytest.raises(RateLimited) as caught:
        rate.take(1)
    assert caught.value.retry_after == pytest.approx(10.0)
    now[0] = 10.0
    rate.take(1)


def chat_server(bodies: list[dict[str, Any]], answers: list[str]) -> dict[tuple[str, str], Any]:
    async def chat(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        text = answers[min(len(bodies), len(answers)) - 1]
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return web.json_response({"choices": [choice]})

    return {("POST", "/v1/chat/completions"): chat}


async def test_reply_sends_stops_cleans_and_remembers(db: Database, scripted: StartServer) -> None:
    bodies: list[dict[str, Any]] = []
    url = await scripted(chat_server(bodies, ["Mira: The tide turns.\nAlice: And then?"]))
    service = NpcService(db, ModerationService(db))
    mira = await service.create(actor(1), Npc(name="Mira"))
    orrin = await service.create(actor(1), Npc(name="Orrin"))
    async with EngineClient(url) as engine:
        talk = NpcConversation(db, engine)
        await talk.add_to_scene(actor(2), 500, "orrin")
        with pytest.raises(Conflict):
            await talk.add_to_scene(actor(2), 500, "Orrin")
        said = await talk.hear(500, 2, "Alice", "Mira, what do you see?\u202e", also=mira)
        line = await talk.reply(mira, 500, to="Alice")
    assert said == "Mira, what do you see?"
    assert line.text == "The tide turns."
    stops = bodies[0]["stop"]
    assert "\nAlice:" in stops and "\nOrrin:" in stops and len(stops) <= 4
    async with db.read() as conn:
        mira_knows = [m.text for m in await npc_memory.recent(conn, mira.id, 500, limit=10)]
        orrin_knows = [m.text for m in await npc_memory.recent(conn, orrin.id, 500, limit=10)]
    assert mira_knows == orrin_knows == ["Mira, what do you see?", "The tide turns."]


async def test_act_is_bounded_and_alternates(db: Database, scripted: StartServer) -> None:
    bodies: list[dict[str, Any]] = []
    url = await scripted(chat_server(bodies, ["Hm."]))
    service = NpcService(db, ModerationService(db))
    for name in ("Mira", "Orrin"):
        await service.create(actor(1), Npc(name=name))
    async with EngineClient(url) as engine:
        talk = NpcConversation(db, engine, rate=ChannelRate(3, 60.0))
        with pytest.raises(NotFound):
            _ = [x async for x in talk.act(500, 2)]
        await talk.add_to_scene(actor(1), 500, "Mira")
        await talk.add_to_scene(actor(1), 500, "Orrin")
        lines = [x async for x in talk.act(500, 50)]
    assert [x.npc.name for x in lines] == ["Mira", "Orrin", "Mira"], "stopped by the channel's rate limit"


async def test_summary_folds_old_lines_keeps_the_newest(db: Database, scripted: StartServer) -> None:
    bodies: list[dict[str, Any]] = []
    url = await scripted(chat_server(bodies, ["Alice asked about ships many times."]))
    mira = await NpcService(db, ModerationService(db)).create(actor(1), Npc(name="Mira"))
    async with EngineClient(url) as engine:
        talk = NpcConversation(db, engine, prompt_budget=256)
        for i in range(20):
            await talk.hear(500, 2, "Alice", f"Question {i} about the ships in the harbour?", also=mira)
        assert await talk.refresh_summary(mira, 500)
    async with db.read() as conn:
        state = await npc_memory.state(conn, mira.id, 500)
        left = await npc_memory.recent(conn, mira.id, 500, limit=100, after_id=state.summary_upto)
    assert state.summary == "Alice asked about ships many times."
    assert len(left) >= 6 and left[-1].text.startswith("Question 19")
    assert "Question 0 " in json.dumps(bodies[0])


async def test_pins_follow_the_rule_and_stay_per_channel(db: Database) -> None:
    service = NpcService(db, ModerationService(db))
    mira = await service.create(actor(1), Npc(name="Mira"))
    with pytest.raises(NotAllowed):
        await service.pin(actor(2), "Mira", 500, "Bob is a spy.")
    await service.pin(actor(1), "mira", 500, " Alice owes a coin.\u202e ")
    with pytest.raises(InputProblem, match="fact is empty"):
        await service.pin(actor(1), "Mira", 500, "\u200b")
    async with db.read() as conn:
        assert await npc_memory.pins(conn, mira.id, 500) == ["Alice owes a coin."]
        assert await npc_memory.pins(conn, mira.id, 600) == []


async def test_a_line_cleaned_to_nothing_is_tried_again_then_shown_as_silence(
    db: Database, scripted: StartServer
) -> None:
    bodies: list[dict[str, Any]] = []
    url = await scripted(chat_server(bodies, ["Alice: I answer for her.", "User: me too", "Hm, yes."]))
    mira = await NpcService(db, ModerationService(db)).create(actor(1), Npc(name="Mira"))
    async with EngineClient(url) as engine:
        talk = NpcConversation(db, engine)
        await talk.hear(500, 2, "Alice", "Mira?", also=mira)
        silent = await talk.reply(mira, 500, to="Alice")
        spoken = await talk.reply(mira, 500, to="Alice")
    assert len(bodies) == 3, "two tries for the first line, one for the second"
    assert silent.text == "" and silent.shown == "*Mira says nothing.*"
    assert spoken.text == spoken.shown == "Hm, yes."
    async with db.read() as conn:
        assert [m.text for m in await npc_memory.recent(conn, mira.id, 500, limit=10)] == ["Mira?", "Hm, yes."]
