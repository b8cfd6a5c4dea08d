"""bot.npcs.memory: an NPC's prompt within its budget, scoped to what it witnessed; lore with card flags."""

from __future__ import annotations

from bot.npcs.memory import NpcContextBuilder, lore_hits
from bot.npcs.model import Npc
from bot.tokens import EstimatingCounter
from storage import lore as lore_repo
from storage import npc_memory, npcs
from storage.db import Database
from storage.lore import LoreEntry
from storage.npc_memory import ChannelState, Line

MIRA = Npc(name="Mira", description="A seer.", post_history_instructions="Speak in riddles.", id=1, guild_id=7)


def line(i: int, text: str, speaker: str = "Alice") -> Line:
    return Line(i, 1, 500, "player", 2, speaker, text, 0, 0.0)


def entry(i: int, keys: tuple[str, ...], content: str, **kw: object) -> LoreEntry:
    return LoreEntry(i, 7, 0, keys, content, 100, 1, 0.0, **kw)  # type: ignore[arg-type]


def test_lore_honours_constant_and_secondary_keys() -> None:
    entries = [
        entry(1, ("marsh",), "always", constant=True),
        entry(2, ("ship",), "needs dusk too", secondary_keys=("dusk",)),
        entry(3, ("ship",), "plain"),
    ]
    assert {e.id for e in lore_hits(entries, ["a ship"])} == {1, 3}
    assert {e.id for e in lore_hits(entries, ["a ship at dusk"])} == {1, 2, 3}


def test_newest_lines_fit_the_budget_and_everything_is_in_place() -> None:
    builder = NpcContextBuilder(EstimatingCounter(), budget=400)
    recent = [line(i, f"line number {i} " + "word " * 20) for i in range(1, 40)]
    state = ChannelState(1, 500, "Alice came at dawn.", 0)
    lore = [entry(9, ("dawn",), "Dawn is holy.", constant=True)]
    prompt = builder.assemble(MIRA, ["Orrin"], state, ["Alice owes a coin."], recent, lore, "Reply as Mira.")
    system, user = prompt.messages[0]["content"], prompt.messages[1]["content"]
    assert prompt.tokens <= 400 and 0 < prompt.lines_included < len(recent)
    assert "line number 39" in user and "line number 1 " not in user  # the newest kept, the oldest dropped
    assert "A seer." in system and "Alice owes a coin." in system and "Alice came at dawn." in system
    assert "Dawn is holy." in system and prompt.lore_included == (9,)
    assert user.index("Speak in riddles.") < user.index("Reply as Mira.")
    assert "Orrin" in system and "NEVER write lines" in system


async def test_an_npc_knows_only_what_happened_where_it_was(db: Database) -> None:
    async with db.transaction() as conn:
        mira = await npcs.insert(conn, Npc(name="Mira"), guild_id=7, now=1.0)
        orrin = await npcs.insert(conn, Npc(name="Orrin"), guild_id=7, now=1.0)
        common = dict(speaker_kind="player", speaker_id=2, speaker_name="Alice", tokens=3, now=1.0)
        await npc_memory.remember(conn, [mira.id, orrin.id], channel_id=500, text="The key is under the mat.", **common)  # type: ignore[arg-type]
        await npc_memory.remember(conn, [orrin.id], channel_id=500, text="The password is swordfish.", **common)  # type: ignore[arg-type]
        await npc_memory.remember(conn, [mira.id], channel_id=600, text="In the library, silence.", **common)  # type: ignore[arg-type]
        await lore_repo.add_for_npc(conn, guild_id=7, npc_id=orrin.id, keys=["key"], content="Orrin's secret.",
                                    priority=1, author_id=1, now=1.0)  # fmt: skip
    builder = NpcContextBuilder(EstimatingCounter(), budget=1024)
    async with db.read() as conn:
        prompt = await builder.build(conn, mira, 500, ["Orrin"], "Reply as Mira.", "Alice")
    text = prompt.messages[0]["content"] + prompt.messages[1]["content"]
    assert "under the mat" in text
    assert "swordfish" not in text, "Mira was not there when the password was said"
    assert "library" not in text, "another channel's lines stay there"
    assert "Orrin's secret." not in text, "another NPC's lore is its own"
