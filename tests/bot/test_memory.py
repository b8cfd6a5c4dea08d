"""bot.stories.memory.ContextBuilder: the narrator's prompt within a token budget, counted with the model's tokenizer.

Token counts here are the real ones: the default model's tokenizer and chat template, from the cache the
engine fixture converts, so "never over budget" means what the engine will see.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import jinja2
import pytest

from bot.llm.tokens import TokenCounter, TokenizerCounter, load_counter
from bot.stories.memory import LORE_SCAN_DEPTH, ContextBuilder, triggered
from engine.config import EngineConfig
from engine.loading import default_gguf_path, gguf_cache_dir
from storage import lore as lore_repo
from storage import stories as story_repo
from storage import turns as turn_repo
from storage.db import Database
from storage.lore import LoreEntry
from storage.stories import Player, Story
from storage.turns import Turn
from tests.support.engine_proc import EngineProcess

STORY = Story(
    id=1, guild_id=1, channel_id=5, starter_id=1, title="The Salt Road", genre="fantasy",
    premise="A caravan crosses the salt flats in search of a lost well.", mode="round-robin", turn_timeout=0,
    max_rounds=0, narrate_every=3, choices=0, phase="narrating", paused=False, round=4, deadline=None,
    author_note="", summary="", summary_upto=0, lobby_message_id=None, created_at=0.0, ended_at=None,
)  # fmt: skip
PLAYERS = [Player(1, 1, "Ada", 1, 0.0, None), Player(1, 2, "Bo", 2, 0.0, None)]
INSTRUCTION = "Continue the story in one or two short paragraphs."
WORDS = (
    "salt lantern dune wind caravan merchant whispers under a copper sky the well is dry and Ada laughs "
    "déjà vu café 月光 ✨ naïve Zoë's camel refuses to move"
).split()


class Model:
    """The default model's tokenizer and chat template: the prompt's length as the engine will count it."""

    def __init__(self, directory: Path) -> None:
        counter = load_counter(str(directory))
        assert isinstance(counter, TokenizerCounter), "the model cache has no tokenizer.json"
        self.counter: TokenCounter = counter
        self.template = jinja2.Environment().from_string((directory / "chat_template.jinja").read_text())

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return self.counter.count(self.template.render(messages=messages, add_generation_prompt=True))


@pytest.fixture(scope="module")
def model(engine: EngineProcess) -> Iterator[Model]:
    directory = gguf_cache_dir(default_gguf_path(), EngineConfig().cache_dir)  # converted by the engine
    yield Model(directory)


def turn(seq: int, text: str, counter: TokenCounter, author: int | None = 1, kind: str = "player") -> Turn:
    return Turn(seq, 1, seq, seq // 3, kind, author, text, counter.count(text), len(text.split()), 0.0, None)


def story_turns(n: int, counter: TokenCounter, rng: random.Random, authors: list[int] | None = None) -> list[Turn]:
    authors = authors or [1, 2]
    out = []
    for seq in range(1, n + 1):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 90)))
        narrator = seq % 4 == 0
        out.append(
            turn(seq, text, counter, None if narrator else rng.choice(authors), "narrator" if narrator else "player")
        )
    return out


def lore(entry_id: int, keys: tuple[str, ...], content: str, priority: int = 100) -> LoreEntry:
    return LoreEntry(entry_id, 1, 5, keys, content, priority, 1, 0.0)


# --- the budget ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [384, 700, 1024, 2048, 4096])
def test_the_prompt_never_exceeds_the_budget(model: Model, budget: int) -> None:
    rng = random.Random(budget)
    long_names = [
        Player(1, 1, "Bartholomew 🌙 the Exceedingly Long-Named", 1, 0.0, None),
        Player(1, 2, "李小龍", 2, 0.0, None),
        Player(1, 3, "Zoë", 3, 0.0, None),
    ]
    for trial in range(12):
        players = long_names if trial % 2 else PLAYERS
        authors = [p.user_id for p in players]
        if trial % 3 == 0:  # many tiny turns: the speaker tags cost more than the text
            turns = [
                turn(s, rng.choice(["I wait.", "Yes!", "…", "🌙"]), model.counter, rng.choice(authors))
                for s in range(1, 201)
            ]
        else:
            turns = story_turns(rng.randint(0, 200), model.counter, rng, authors)
        story = replace(
            STORY,
            summary=" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 40))),
            author_note="Keep it grim and short." if trial % 2 else "",
        )
        entries = [
            lore(i, (w,), f"About the {w}: " + " ".join(rng.choice(WORDS) for _ in range(25)))
            for i, w in enumerate(WORDS[:12])
        ]
        pins = [f"Fact {i}: " + " ".join(rng.choice(WORDS) for _ in range(10)) for i in range(rng.randint(0, 4))]
        prompt = ContextBuilder(model.counter, budget).assemble(story, players, pins, turns, entries, INSTRUCTION)
        real = model.prompt_tokens(prompt.messages)
        assert real <= budget, (trial, real, prompt.tokens)
        assert real <= prompt.tokens + 2, "the builder's own count must not undercount"
        assert prompt.tokens - real <= budget // 10 + 30, "nor overcount by much"
        if prompt.turns_included < len(turns):  # the next older turn really did not fit
            dropped = turns[-prompt.turns_included - 1]
            assert prompt.tokens + dropped.tokens + 40 > budget, (trial, prompt.tokens, dropped.tokens)


def test_pins_summary_and_instruction_are_always_included(model: Model) -> None:
    counter = model.counter
    turns = story_turns(200, counter, random.Random(3))
    story = replace(STORY, summary="They found the well, but it was poisoned.")
    pins = ["The moon is green.", "Dragons fear salt."]
    prompt = ContextBuilder(counter, 512).assemble(story, PLAYERS, pins, turns, [], INSTRUCTION)
    system, user = prompt.messages[0]["content"], prompt.messages[1]["content"]
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert "- The moon is green.\n- Dragons fear salt." in system
    assert "They found the well, but it was poisoned." in system and prompt.summary_used
    assert story.title in system and story.premise in system and "Ada, Bo" in system
    assert user.endswith(INSTRUCTION)
    assert 0 < prompt.turns_included < prompt.turns_available == 200


def test_the_newest_turns_are_kept_and_the_oldest_dropped(model: Model) -> None:
    counter = model.counter
    turns = [turn(s, f"Event {s:03d} happens at the well.", counter) for s in range(1, 201)]
    prompt = ContextBuilder(counter, 600).assemble(STORY, PLAYERS, [], turns, [], INSTRUCTION)
    user = prompt.messages[1]["content"]
    kept = [t for t in turns if f"Event {t.seq:03d} " in user]
    assert kept == turns[-prompt.turns_included :], "a contiguous run of the newest turns"
    assert turns[0].text not in user and turns[-1].text in user
    order = [user.index(t.text) for t in kept]
    assert order == sorted(order), "oldest first, most recent last"
    assert "[Ada (player)]: Event 200 happens at the well." in user


def test_an_empty_story_says_so(model: Model) -> None:
    prompt = ContextBuilder(model.counter, 512).assemble(STORY, PLAYERS, [], [], [], INSTRUCTION)
    assert "(The story has not started yet.)" in prompt.messages[1]["content"]
    assert model.prompt_tokens(prompt.messages) <= 512


def test_the_authors_note_comes_after_the_turns_and_before_the_instruction(model: Model) -> None:
    turns = [turn(s, f"Event {s} happens.", model.counter) for s in range(1, 6)]
    builder = ContextBuilder(model.counter, 1024)
    story = replace(STORY, author_note="Make the weather turn.")
    user = builder.assemble(story, PLAYERS, [], turns, [], INSTRUCTION).messages[1]["content"]
    note = user.index("[Author's note: Make the weather turn.]")
    assert user.index("Event 5 happens.") < note < user.index(INSTRUCTION)
    assert "Author's note" not in builder.assemble(STORY, PLAYERS, [], turns, [], INSTRUCTION).messages[1]["content"]


def test_static_parts_come_first_so_the_prefix_can_be_cached(model: Model) -> None:
    builder = ContextBuilder(model.counter, 1024)
    turns = [turn(s, f"Event {s} happens at the old well.", model.counter) for s in range(1, 40)]
    story = replace(STORY, summary="Long ago, the caravan set out.")
    entries = [lore(1, ("well",), "The well is cursed.")]
    first = builder.assemble(story, PLAYERS, ["The moon is green."], turns[:30], entries, INSTRUCTION)
    later = builder.assemble(story, PLAYERS, ["The moon is green."], turns, entries, "Another instruction.")
    assert first.messages[0] == later.messages[0]  # the system message, byte for byte
    assert first.messages[1] != later.messages[1]
    assert "Event" not in first.messages[0]["content"]


# --- lore -----------------------------------------------------------------------------------------------


def test_lore_keys_match_whole_words_in_any_case() -> None:
    cat, dun, star = lore(1, ("cat",), "Cats rule."), lore(2, ("castle dun",), "A fort."), lore(3, ("c++",), "Code.")
    assert triggered([cat], ["We concatenate strings."]) == []
    assert triggered([cat], ["The bobcat hisses; scatter!"]) == []
    assert triggered([cat], ["A CAT appears."]) == [cat]
    assert triggered([cat], ["The cat's tail."]) == [cat]
    assert triggered([dun], ["They reach Castle Dun at dawn."]) == [dun]
    assert triggered([dun], ["The castle dungeon."]) == []
    assert triggered([star], ["She writes C++ daily."]) == [star]
    assert triggered([cat, dun], ["nothing here", "a cat"]) == [cat]


def test_lore_is_triggered_only_by_the_latest_turns_or_the_instruction(model: Model) -> None:
    counter = model.counter
    dragon, well = lore(1, ("dragon",), "Dragons fear salt."), lore(2, ("well",), "The well is cursed.")
    turns = [turn(1, "A dragon circles overhead.", counter)]
    turns += [turn(s, f"Quiet step {s}.", counter) for s in range(2, 2 + LORE_SCAN_DEPTH)]
    builder = ContextBuilder(counter, 2048)
    prompt = builder.assemble(STORY, PLAYERS, [], turns, [dragon, well], INSTRUCTION)
    assert prompt.lore_included == ()  # the dragon was mentioned too long ago
    assert "World lore" not in prompt.messages[0]["content"]
    latest = [*turns[1:], turn(99, "The dragon lands.", counter)]
    prompt = builder.assemble(STORY, PLAYERS, [], latest, [dragon, well], "Go to the well.")
    assert prompt.lore_included == (1, 2)
    assert "World lore:\n- Dragons fear salt.\n- The well is cursed." in prompt.messages[0]["content"]


def test_lore_keeps_the_highest_priorities_and_puts_them_last(model: Model) -> None:
    counter = model.counter
    text = " ".join(["the salt glitters"] * 20)
    entries = [  # storage order: priority, then id
        lore(4, ("salt",), "LOW " + text, priority=1),
        lore(2, ("salt",), "MID " + text, priority=50),
        lore(1, ("salt",), "HIGH " + text, priority=100),
        lore(3, ("salt",), "HIGHER " + text, priority=200),
    ]
    turns = [turn(1, "Salt everywhere.", counter)]
    two = 2 * (counter.count("HIGHER " + text) + 3) + counter.count("World lore:") + 1
    budget = 4 * (two + 10)  # a quarter has room for two entries, not three
    prompt = ContextBuilder(counter, budget).assemble(STORY, PLAYERS, [], turns, entries, INSTRUCTION)
    assert prompt.lore_included == (1, 3)
    system = prompt.messages[0]["content"]
    assert system.index("HIGH ") < system.index("HIGHER ") and "LOW " not in system and "MID " not in system


def test_lore_takes_at_most_a_quarter_of_the_budget(model: Model) -> None:
    counter = model.counter
    entries = [lore(i, ("salt",), f"Entry {i}: " + " ".join(["the salt glitters"] * 4)) for i in range(1, 80)]
    turns = [turn(1, "Salt everywhere.", counter)]
    for budget in (512, 1024, 2048):
        prompt = ContextBuilder(counter, budget).assemble(STORY, PLAYERS, [], turns, entries, INSTRUCTION)
        block = prompt.messages[0]["content"].split("\n\n")[-1]
        assert block.startswith("World lore:")
        assert counter.count(block) <= budget // 4
        assert counter.count(block) >= budget // 4 - 40  # and it does use its share
        assert len(prompt.lore_included) < len(entries)


# --- reading from the database ---------------------------------------------------------------------


async def test_build_reads_pins_lore_and_only_turns_after_the_summary(model: Model, db: Database) -> None:
    counter = model.counter
    async with db.transaction() as conn:
        story = await story_repo.create(
            conn, guild_id=1, channel_id=5, starter_id=1, title="The Salt Road", genre="fantasy",
            premise="A caravan.", mode="round-robin", turn_timeout=0, max_rounds=0, narrate_every=3, choices=0, now=0.0,
        )  # fmt: skip
        await story_repo.join(conn, story.id, 1, "Ada", 0.0)
        await story_repo.join(conn, story.id, 2, "Bo", 0.0)
        await story_repo.leave(conn, story.id, 2, 1.0)  # Bo left, but what Bo wrote is still Bo's
        await story_repo.add_pin(conn, story.id, 1, "The moon is green.", 0.0)
        await lore_repo.add(
            conn, guild_id=1, channel_id=5, keys=["well"], content="The well is cursed.", priority=100, author_id=1,
            now=0.0,
        )  # fmt: skip
        await lore_repo.add(
            conn, guild_id=1, channel_id=6, keys=["well"], content="Another channel's well.", priority=100,
            author_id=1, now=0.0,
        )  # fmt: skip
        for seq in range(1, 31):
            text = f"Turn {seq:02d}: they walk to the well."
            await turn_repo.add(
                conn, story.id, round=seq // 3, kind="player", author_id=1 if seq % 2 else 2, text=text,
                tokens=counter.count(text), words=7, now=0.0,
            )  # fmt: skip
        await turn_repo.add(
            conn, story.id, round=10, kind="skip", author_id=1, text="", tokens=0, words=0, now=0.0
        )  # fmt: skip
        story = await story_repo.update(conn, story.id, summary="They set out at dawn.", summary_upto=20)
        players = await story_repo.players(conn, story.id)
        prompt = await ContextBuilder(counter, 2048).build(conn, story, players, INSTRUCTION)
    system, user = prompt.messages[0]["content"], prompt.messages[1]["content"]
    assert "- The moon is green." in system and "They set out at dawn." in system
    assert "The well is cursed." in system and "Another channel's well." not in system
    assert prompt.turns_available == prompt.turns_included == 10
    assert "Turn 20:" not in user and "Turn 21:" in user and "Turn 30:" in user
    assert "[Bo (player)]: Turn 30:" in user and "[Ada (player)]: Turn 29:" in user
    assert "Ada" in system and "Bo" not in system.split("never write for them")[1].split("\n")[0]
    assert model.prompt_tokens(prompt.messages) <= 2048
