"""FeedbackService over a real SQLite file: ratings, approvals, preference pairs, consent, forgetting."""

from __future__ import annotations

import pytest

from bot.errors import NotFound
from bot.feedback import FeedbackService
from storage import feedback as repo
from storage import poems as poem_repo
from storage import stories as story_repo
from storage import turns as turn_repo
from storage import votes as vote_repo
from storage.db import Database

PROMPT = [{"role": "system", "content": "You are a poet."}, {"role": "user", "content": 'Write a haiku about "rain".'}]
CONSENTING, SILENT = 1001, 2002


async def consent(guild_id: int) -> bool:
    return guild_id == CONSENTING


@pytest.fixture
def feedback(db: Database) -> FeedbackService:
    return FeedbackService(db, consent)


async def _poem(db: Database, guild_id: int = CONSENTING, author_id: int = 7, text: str = "rain on the roof") -> int:
    async with db.transaction() as conn:
        poem = await poem_repo.create(
            conn, guild_id=guild_id, channel_id=5, author_id=author_id, topic="rain", form="haiku"
        )
        await poem_repo.set_text(conn, poem.id, text)
    return poem.id


async def test_one_rating_per_user_per_item_and_it_can_change(db: Database, feedback: FeedbackService) -> None:
    poem_id = await _poem(db)
    item = await feedback.written("poem", CONSENTING, PROMPT, "rain on the roof", poem_id=poem_id, requester_id=7)
    first = await feedback.rate(item.id, CONSENTING, 11, 1)
    assert first.previous is None and (first.tally.up, first.tally.down) == (1, 0)
    again = await feedback.rate(item.id, CONSENTING, 11, 1)
    assert again.previous == 1 and (again.tally.up, again.tally.down) == (1, 0), "a second press does not count twice"
    changed = await feedback.rate(item.id, CONSENTING, 11, -1)
    assert changed.previous == 1 and (changed.tally.up, changed.tally.down) == (0, 1), "the rating changed"
    other = await feedback.rate(item.id, CONSENTING, 12, 1)
    assert (other.tally.up, other.tally.down) == (1, 1)


async def test_an_item_is_rated_only_on_its_own_server(db: Database, feedback: FeedbackService) -> None:
    item = await feedback.written("poem", CONSENTING, PROMPT, "text", poem_id=await _poem(db))
    with pytest.raises(NotFound):
        await feedback.rate(item.id, SILENT, 11, 1)
    with pytest.raises(NotFound):
        await feedback.rate(item.id + 99, CONSENTING, 11, 1)
    with pytest.raises(ValueError):
        await feedback.rate(item.id, CONSENTING, 11, 0)


async def test_consent_at_the_time_is_stored_with_each_row(db: Database, feedback: FeedbackService) -> None:
    yes = await feedback.written("poem", CONSENTING, PROMPT, "a", poem_id=await _poem(db))
    no = await feedback.written("poem", SILENT, PROMPT, "b", poem_id=await _poem(db, SILENT))
    assert yes.consent and not no.consent
    pair = await feedback.replaced("regenerate", SILENT, 7, PROMPT, "new", "old", poem_id=no.poem_id or 0)
    assert pair is not None and not pair.consent
    assert FeedbackService(db).consent is not None and not await FeedbackService(db).consent(CONSENTING), (
        "without a consent lookup nothing is consented"
    )


async def test_saving_approves_the_current_text(db: Database, feedback: FeedbackService) -> None:
    poem_id = await _poem(db)
    await feedback.written("poem", CONSENTING, PROMPT, "first", poem_id=poem_id)
    latest = await feedback.written("poem", CONSENTING, PROMPT, "second", poem_id=poem_id)
    await feedback.poem_saved(poem_id, 9)
    async with db.read() as conn:
        approved = [item async for item, _ in repo.approved_items(conn)]
    assert [(i.id, i.text, i.approved_by) for i in approved] == [(latest.id, "second", 9)]
    assert await feedback.latest_item(poem_id) == latest.id


async def test_replaced_text_is_recorded_as_rejected(db: Database, feedback: FeedbackService) -> None:
    old, new = await _poem(db, text="old words"), await _poem(db, text="new words")
    pair = await feedback.replaced(
        "another", CONSENTING, 7, PROMPT, "new words", "old words", poem_id=new, old_poem_id=old
    )
    assert pair is not None and (pair.chosen, pair.rejected, pair.source, pair.prompt) == (
        "new words", "old words", "another", PROMPT,
    )  # fmt: skip
    assert await feedback.replaced("regenerate", CONSENTING, 7, PROMPT, "same", "same", poem_id=new) is None
    assert await feedback.replaced("regenerate", CONSENTING, 7, PROMPT, "new", "  ", poem_id=new) is None


async def _vote(db: Database, options: list[str]) -> tuple[int, int]:
    async with db.transaction() as conn:
        story = await story_repo.create(
            conn, guild_id=CONSENTING, channel_id=5, starter_id=7, title="T", genre="g", premise="p", mode="free",
            turn_timeout=0, max_rounds=0, narrate_every=1, choices=len(options), now=1.0,
        )  # fmt: skip
        await story_repo.join(conn, story.id, 7, "Ana", 1.0)
        vote = await vote_repo.create(conn, story.id, 1, options, 100.0, 1.0)
        turn = await turn_repo.add(
            conn, story.id, round=1, kind="narrator", author_id=None, text=options[1], tokens=3, words=3, now=2.0
        )
    return vote.id, turn.id


async def test_a_vote_makes_pairs_with_the_prompt_kept_when_drafted(db: Database, feedback: FeedbackService) -> None:
    options = ("The door creaks.", "The wolf howls.", "Snow falls.")
    vote_id, turn_id = await _vote(db, list(options))
    await feedback.vote_drafted(vote_id, CONSENTING, PROMPT)
    item = await feedback.vote_closed(vote_id, CONSENTING, options, 1, turn_id)
    assert item is not None and item.text == "The wolf howls." and item.turn_id == turn_id
    async with db.read() as conn:
        pairs = await repo.pairs_for_vote(conn, vote_id)
        approved = [i.id async for i, _ in repo.approved_items(conn)]
    assert [(p.chosen, p.rejected) for p in pairs] == [
        ("The wolf howls.", "The door creaks."), ("The wolf howls.", "Snow falls."),
    ]  # fmt: skip
    assert all(p.prompt == PROMPT and p.consent and p.user_id is None for p in pairs)
    assert approved == [item.id], "the winner is an approved narration"
    await feedback.vote_closed(vote_id, CONSENTING, options, 1, turn_id)
    async with db.read() as conn:
        assert len(await repo.pairs_for_vote(conn, vote_id)) == 2, "closing twice adds no pairs"


async def test_a_vote_without_a_kept_prompt_records_nothing(db: Database, feedback: FeedbackService) -> None:
    vote_id, turn_id = await _vote(db, ["a", "b"])
    assert await feedback.vote_closed(vote_id, CONSENTING, ("a", "b"), 0, turn_id) is None


async def test_forget_user_removes_their_feedback_and_what_quotes_them(db: Database, feedback: FeedbackService) -> None:
    theirs = await feedback.written(
        "poem", CONSENTING, PROMPT, "t", poem_id=await _poem(db, author_id=7), requester_id=7
    )
    others = await feedback.written(
        "poem", CONSENTING, PROMPT, "o", poem_id=await _poem(db, author_id=8), requester_id=8
    )
    await feedback.rate(others.id, CONSENTING, 7, 1)
    await feedback.rate(others.id, CONSENTING, 8, 1)
    options = ("x", "y")
    vote_id, turn_id = await _vote(db, list(options))  # user 7 plays in this story
    await feedback.vote_drafted(vote_id, CONSENTING, PROMPT)
    await feedback.vote_closed(vote_id, CONSENTING, options, 0, turn_id)
    forgotten = await feedback.forget_user(7)
    assert (forgotten.ratings, forgotten.items, forgotten.pairs) == (1, 2, 1)
    async with db.read() as conn:
        assert await repo.get_item(conn, theirs.id) is None
        assert await repo.get_item(conn, others.id) is not None
        assert (await repo.tally(conn, others.id)).up == 1, "only their own rating went"
        assert await repo.vote_prompt(conn, vote_id) is None
        assert await repo.pairs_for_vote(conn, vote_id) == []


async def test_deleting_the_poem_takes_its_feedback(db: Database, feedback: FeedbackService) -> None:
    poem_id = await _poem(db)
    item = await feedback.written("poem", CONSENTING, PROMPT, "t", poem_id=poem_id)
    await feedback.rate(item.id, CONSENTING, 11, 1)
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM poems WHERE id = ?", (poem_id,))
        assert await repo.get_item(conn, item.id) is None
        assert (await repo.tally(conn, item.id)).up == 0
