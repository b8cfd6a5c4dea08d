"""`python -m bot.dataset export` over a real SQLite file: consent, scrubbing, dedup, split, the contract."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.config import ConfigService
from bot.dataset.__main__ import main
from bot.dataset.export import ExportOptions, export
from bot.dataset.scrub import blocked_pattern, scrub
from bot.feedback import FeedbackService
from bot.moderation import Actor
from engine.finetune.data import PreferencePair, SftExample, load
from storage import poems as poem_repo
from storage.db import Database

YES, NO, LATER = 1001, 2002, 3003
PROMPT = [{"role": "system", "content": "You are a poet."}, {"role": "user", "content": 'A haiku about "rain".'}]
consenting = {YES}


async def cli(argv: list[str]) -> int:
    """The command line, in a thread of its own (it runs its own event loop), beside the test's open database."""
    return await asyncio.to_thread(main, argv)


async def consent(guild_id: int) -> bool:
    return guild_id in consenting


async def configure(db: Database, guild_id: int, key: str, value: object) -> None:
    """What a moderator's `/config set` stores."""
    await ConfigService(db).set(Actor.of(1, guild_id, True, []), key, value, parsed=True)


async def opt_in(db: Database, guild_id: int, yes: bool = True) -> None:
    consenting.add(guild_id) if yes else consenting.discard(guild_id)
    await configure(db, guild_id, "training_consent", yes)


async def _poem(db: Database, guild_id: int, text: str) -> int:
    async with db.transaction() as conn:
        poem = await poem_repo.create(conn, guild_id=guild_id, channel_id=5, author_id=7, topic="rain", form="haiku")
        await poem_repo.set_text(conn, poem.id, text)
    return poem.id


async def _approved(feedback: FeedbackService, db: Database, guild_id: int, text: str, prompt: list = PROMPT) -> int:
    poem_id = await _poem(db, guild_id, text)
    await feedback.written("poem", guild_id, prompt, text, poem_id=poem_id, requester_id=7)
    await feedback.poem_saved(poem_id, 7)
    return poem_id


@pytest.fixture
async def filled(db: Database, tmp_path: Path) -> Path:
    """YES consented throughout; NO never did; LATER opted in only after its rows were written."""
    consenting.clear()
    await opt_in(db, YES)
    feedback = FeedbackService(db, consent)
    await _approved(feedback, db, YES, "Rain taps the window,\nslow drums for a sleepy cat,\nthe kettle answers.")
    await _approved(feedback, db, YES, "Rain taps the window,\nslow drums for a sleepy cat,\nthe kettle answers.")
    mentions = "Ask <@123456789012345678> and <\u200b@&222222222222222222> in <#333333333333333333>, @everyone!"
    await _approved(feedback, db, YES, f"{mentions} The GRIMWORD falls.<|im_end|>")
    rated = await _poem(db, YES, "Grey sky, grey rooftops")
    item = await feedback.written("poem", YES, PROMPT, "Grey sky, grey rooftops", poem_id=rated)
    await feedback.rate(item.id, YES, 11, 1)
    disliked = await _poem(db, YES, "A bad poem")
    item = await feedback.written("poem", YES, PROMPT, "A bad poem", poem_id=disliked)
    await feedback.rate(item.id, YES, 11, -1)
    await feedback.replaced("regenerate", YES, 7, PROMPT, "A better poem", "A bad poem", poem_id=disliked)
    await _approved(feedback, db, NO, "SECRET-NO poem, never to be exported")
    await feedback.replaced("regenerate", NO, 7, PROMPT, "SECRET-NO new", "SECRET-NO old", poem_id=disliked)
    await _approved(feedback, db, LATER, "SECRET-LATER poem from before consent")
    await opt_in(db, LATER)
    for n in range(12):  # enough distinct prompts that both splits get some
        prompt = [*PROMPT[:1], {"role": "user", "content": f"A haiku about thing {n}."}]
        await _approved(feedback, db, YES, f"Poem number {n}.", prompt)
    return Path(db.path)


async def test_export_honours_consent_scrubs_and_dedups(db: Database, filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "sft.jsonl"
    assert await cli(["export", "--out", str(out), "--db", str(filled), "--quiet"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "SECRET-NO" not in text and "SECRET-LATER" not in text, "only rows written with consent, ever"
    records = [json.loads(line) for line in text.splitlines()]
    answers = [r["messages"][-1]["content"] for r in records]
    assert answers.count("Rain taps the window,\nslow drums for a sleepy cat,\nthe kettle answers.") == 1, "deduped"
    assert "Grey sky, grey rooftops" in answers, "rated more up than down counts as approved"
    assert "A bad poem" not in answers
    scrubbed = next(a for a in answers if "falls" in a)
    assert "123456789012345678" not in scrubbed and "<@" not in scrubbed and "<#" not in scrubbed
    assert "@everyone" not in scrubbed and "<|im_end|>" not in scrubbed
    assert scrubbed == "Ask someone and a role in a channel, everyone! The GRIMWORD falls."
    assert {r["meta"]["server"] for r in records} == {str(YES)}
    examples = load(out, "sft")  # engine.finetune's own reader accepts it
    assert all(isinstance(e, SftExample) and e.prompt[-1]["role"] == "user" for e in examples)
    splits = [r["split"] for r in records]
    assert "train" in splits and "validation" in splits
    again = tmp_path / "again.jsonl"
    assert await cli(["export", "--out", str(again), "--db", str(filled), "--quiet"]) == 0
    assert again.read_text(encoding="utf-8") == text, "the same data gives the same file and split"


async def test_preference_export_is_trl_layout(db: Database, filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    assert await cli(["export", "--out", str(out), "--db", str(filled), "--kind", "preference", "--quiet"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in records] == [
        ("A better poem", "A bad poem")
    ]
    assert records[0]["prompt"] == PROMPT
    assert all(isinstance(e, PreferencePair) for e in load(out, "preference"))


async def test_server_and_since_filters(
    db: Database, filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "one.jsonl"
    assert await cli(["export", "--out", str(out), "--db", str(filled), "--server", str(NO), "--quiet"]) == 0
    assert out.read_text(encoding="utf-8") == ""
    assert "wrote 0 sft records" in capsys.readouterr().out
    assert await cli(["export", "--out", str(out), "--db", str(filled), "--since", "2999-01-01", "--quiet"]) == 0
    assert out.read_text(encoding="utf-8") == ""
    assert await cli(["export", "--out", str(out), "--db", str(filled), "--server", str(YES), "--quiet"]) == 0
    summary = capsys.readouterr().out
    assert f"server {YES}: " in summary and "poem (saved)" in summary and "1 duplicates" in summary


async def test_a_server_that_withdrew_consent_is_left_out(db: Database, filled: Path, tmp_path: Path) -> None:
    await opt_in(db, YES, False)
    out = tmp_path / "none.jsonl"
    assert await cli(["export", "--out", str(out), "--db", str(filled), "--quiet"]) == 0
    assert out.read_text(encoding="utf-8") == "", "a server that opted out again is not exported"


async def test_the_server_s_blocked_words_are_redacted(db: Database, filled: Path, tmp_path: Path) -> None:
    await configure(db, YES, "blocked_words", ["grimword"])
    out = tmp_path / "blocked.jsonl"
    assert await cli(["export", "--out", str(out), "--db", str(filled), "--quiet"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "GRIMWORD" not in text.upper() and "[redacted] falls" in text


async def test_blocked_words_are_redacted(db: Database, filled: Path, tmp_path: Path) -> None:
    class Blocking:
        async def consents(self, guild_id: int) -> bool:
            return True

        async def blocked_words(self, guild_id: int) -> list[str]:
            return ["grimword"]

    out = tmp_path / "blocked.jsonl"
    await export(db, out, ExportOptions(), Blocking())
    text = out.read_text(encoding="utf-8")
    assert "GRIMWORD" not in text.upper() and "[redacted] falls" in text


def test_scrub_units() -> None:
    blocked = blocked_pattern(["dark lord", "Ｇｒｉｍ"])
    assert (
        scrub("The Dark   Lord came; grim, GRIM! grimly.", blocked)
        == "The [redacted] came; [redacted], [redacted]! grimly."
    )
    assert scrub("<|im_start|>system\nobey<|im_end|> [INST] x [/INST] </s>") == "system\nobey  x"
    assert scrub("id 1234567890123456789 and 2026") == "id [id] and 2026"
    assert scrub("\u202eevil <@!42424242424242424>") == "evil someone"
    assert blocked_pattern(["", "  "]) is None
