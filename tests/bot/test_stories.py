"""bot.stories.service.StoryService: the whole story-rounds state machine on a real SQLite file.

Time is a controllable clock. Narration comes from a scripted stand-in for EngineClient (canned text,
unit tests only), except in the last section, which drives plan -> the real engine -> complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.errors import Conflict, NotAllowed, NotFound, UserFacingError
from bot.llm.client import Completion, EngineClient, Finished, Sampling, TextDelta
from bot.moderation import Actor, ModerationService
from bot.stories.narration import Choosing, NarrationDone, Narrator, VoteChoices
from bot.stories.rules import MAX_PINS, MAX_PLAYERS, StoryOptions
from bot.stories.service import NarrationPlan, Outcome, StoryService, VoteResult
from bot.text import InputProblem
from storage import turns as turn_repo
from storage.db import Database
from storage.stories import Story
from storage.turns import Turn
from tests.support.clock import T0, FakeClock
from tests.support.engine_proc import EngineProcess

GUILD, CHANNEL, OTHER_CHANNEL = 100, 200, 201
ADA, BO, CY, OUTSIDER, MOD = 1, 2, 3, 50, 99
NAMES = {ADA: "Ada", BO: "Bo", CY: "Cy"}
MOD_ROLE = 555


class ScriptedEngine:
    """Stands in for EngineClient: answers with canned texts, in order, and records every request."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.requests: list[tuple[list[dict[str, str]], str, Sampling]] = []

    async def complete(self, messages: list[dict[str, str]], *, tenant: str, sampling: Sampling) -> Completion:
        self.requests.append((messages, tenant, sampling))
        texts = tuple(self.answers.pop(0) for _ in range(sampling.n))
        return Completion(texts, ("stop",) * len(texts))

    async def stream(
        self, messages: list[dict[str, str]], *, tenant: str, sampling: Sampling
    ) -> AsyncIterator[TextDelta | Finished]:
        self.requests.append((messages, tenant, sampling))
        text = self.answers.pop(0)
        for start in range(0, len(text), 7):
            yield TextDelta(text[start : start + 7])
        yield Finished("stop")


def actor(user_id: int, *, manage: bool = False, roles: tuple[int, ...] = ()) -> Actor:
    return Actor.of(user_id, GUILD, manage, roles)


@pytest.fixture
def fake_engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture
async def service(db: Database, clock: FakeClock) -> StoryService:
    return StoryService(db, ModerationService(db), clock=clock)


@pytest.fixture
def narrator(service: StoryService, fake_engine: ScriptedEngine) -> Narrator:
    return Narrator(service, fake_engine)  # type: ignore[arg-type]  # a scripted stand-in for EngineClient


def options(**changes: object) -> StoryOptions:
    base = StoryOptions(title="The Salt Road", genre="fantasy", premise="A caravan crosses the salt flats.")
    return replace(base, **changes)


async def new_story(service: StoryService, *, channel: int = CHANNEL, players: int = 3, **changes: object) -> Story:
    story = await service.create(GUILD, channel, ADA, "Ada", options(**changes))
    for user_id in list(NAMES)[1:players]:
        await service.join(story.id, user_id, NAMES[user_id])
    return story


async def narrate(service: StoryService, story_id: int, *texts: str) -> Outcome:
    plan = await service.plan_narration(story_id)
    return await service.complete_narration(plan, list(texts) or ["The wind rises over the salt."])


async def started(service: StoryService, **changes: object) -> Story:
    """A story past its opening: round 1, Ada's turn."""
    story = await new_story(service, **changes)
    await service.begin(story.id, actor(ADA))
    return (await narrate(service, story.id, "OPENING")).story


async def write(service: StoryService, *users: int, channel: int = CHANNEL) -> Outcome:
    outcome = None
    for user_id in users:
        outcome = await service.add_turn(channel, user_id, f"{NAMES[user_id]} acts.")
    assert outcome is not None
    return outcome


async def all_turns(db: Database, story_id: int) -> list[Turn]:
    async with db.read() as conn:
        return await turn_repo.all_of(conn, story_id)


def shape(turns: list[Turn]) -> list[tuple[int, str, int | None]]:
    return [(t.round, t.kind, t.author_id) for t in turns]


# --- creating ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"title": ""}, "The title is empty"),
        ({"title": "\u200b\u200b\u200d"}, "The title is empty"),
        ({"title": "t" * 101}, "limit is 100"),
        ({"premise": " "}, "The premise is empty"),
        ({"premise": "p" * 5000}, "limit is 1,000"),
        ({"turn_timeout": 5}, "between 10 seconds and 24 hours"),
        ({"max_rounds": 500}, "Rounds must be between"),
        ({"choices": 5}, "2 or 3 continuations"),
        ({"mode": "anarchy"}, "Unknown mode"),
    ],
)
async def test_create_refuses_bad_options_and_creates_nothing(
    service: StoryService, changes: dict, problem: str
) -> None:
    with pytest.raises((InputProblem, UserFacingError), match=problem):
        await service.create(GUILD, CHANNEL, ADA, "Ada", options(**changes))
    assert await service.open_stories() == []


async def test_create_opens_a_lobby_with_the_starter_in_it(service: StoryService) -> None:
    story = await service.create(GUILD, CHANNEL, ADA, "  Ada \u200b", options(title="  Salt  Road ", turn_timeout=90))
    assert (story.phase, story.round, story.title, story.turn_timeout, story.starter_id) == (
        "lobby", 0, "Salt Road", 90, ADA,
    )  # fmt: skip
    view = await service.view(CHANNEL)
    assert [(p.user_id, p.name) for p in view.players] == [(ADA, "Ada")]
    assert view.current is None and view.vote is None
    with pytest.raises(InputProblem):
        await service.create(GUILD, OTHER_CHANNEL, ADA, "\u200b", options())


async def test_one_open_story_per_channel(service: StoryService) -> None:
    await new_story(service)
    with pytest.raises(Conflict, match="already running in this channel"):
        await new_story(service)
    await new_story(service, channel=OTHER_CHANNEL)  # another channel is fine
    await service.end(CHANNEL, actor(ADA))
    again = await new_story(service)  # a finished story frees the channel
    assert (await service.view(CHANNEL)).story.id == again.id


# --- joining and leaving --------------------------------------------------------------------------


async def test_join_and_leave_in_the_lobby(service: StoryService) -> None:
    story = await new_story(service, players=1)
    outcome, player = await service.join(story.id, BO, "  Bo  ")
    assert player.name == "Bo" and outcome.story.phase == "lobby" and not outcome.narrate
    with pytest.raises(Conflict, match="already in this story"):
        await service.join(story.id, BO, "Bo again")
    with pytest.raises(InputProblem):
        await service.join(story.id, CY, "x" * 41)
    _, left = await service.leave(story.id, BO)
    assert left.user_id == BO
    with pytest.raises(NotFound, match="not in this story"):
        await service.leave(story.id, BO)
    assert [p.user_id for p in (await service.view(CHANNEL)).players] == [ADA]


async def test_a_player_renames_their_character_with_the_same_rules_as_joining(service: StoryService) -> None:
    story = await new_story(service, players=2)
    before, after = await service.rename(story.id, BO, "  Mira \u200b")
    assert (before.name, after.name) == ("Bo", "Mira") and after.position == before.position
    with pytest.raises(InputProblem, match="limit is 40"):
        await service.rename(story.id, BO, "x" * 41)
    with pytest.raises(NotFound, match="not in this story"):
        await service.rename(story.id, CY, "Cy the Bold")
    with pytest.raises(Conflict, match="`/story join character:…` renames"):
        await service.join(story.id, BO, "Mira again")
    await service.begin(story.id, actor(ADA))
    plan = await service.plan_narration(story.id)
    assert "Mira" in plan.messages[-1]["content"] and "Bo" not in plan.messages[-1]["content"]


async def test_a_story_is_full_at_max_players(service: StoryService) -> None:
    story = await new_story(service, players=1)
    for user_id in range(1000, 1000 + MAX_PLAYERS - 1):
        await service.join(story.id, user_id, f"P{user_id}")
    with pytest.raises(Conflict, match=f"full \\({MAX_PLAYERS} players\\)"):
        await service.join(story.id, 5000, "One too many")
    await service.leave(story.id, 1000)
    await service.join(story.id, 5000, "Now there is room")


async def test_a_returning_player_goes_to_the_end_of_the_order(service: StoryService) -> None:
    story = await new_story(service)
    await service.leave(story.id, ADA)
    await service.join(story.id, ADA, "Ada")
    assert [p.user_id for p in (await service.view(CHANNEL)).players] == [BO, CY, ADA]


async def test_leaving_on_your_turn_passes_it_on_with_a_fresh_deadline(service: StoryService, clock: FakeClock) -> None:
    story = await started(service, turn_timeout=60)
    assert story.deadline == T0 + 60
    clock.now += 20
    outcome, _ = await service.leave(story.id, ADA)
    assert outcome.next_player is not None and outcome.next_player.user_id == BO
    assert outcome.story.deadline == clock.now + 60
    clock.now += 5
    outcome, _ = await service.leave(story.id, CY)  # not Cy's turn: nothing moves
    assert outcome.next_player is None and outcome.story.deadline == T0 + 80
    assert (await service.view(CHANNEL)).current.user_id == BO


async def test_the_last_writer_of_a_round_leaving_calls_the_narrator(service: StoryService) -> None:
    story = await started(service)
    await write(service, ADA, BO)
    outcome, _ = await service.leave(story.id, CY)
    assert outcome.narrate and outcome.story.phase == "narrating"


async def test_everyone_leaving_holds_the_story_until_someone_joins(service: StoryService, clock: FakeClock) -> None:
    story = await started(service, turn_timeout=60)
    for user_id in (BO, CY):
        await service.leave(story.id, user_id)
    outcome, _ = await service.leave(story.id, ADA)
    assert outcome.story.phase == "held" and outcome.story.deadline is None
    assert "Everyone has left" in outcome.note
    with pytest.raises(Conflict):
        await service.add_turn(CHANNEL, ADA, "I am back?")
    clock.now += 300
    outcome, _ = await service.join(story.id, BO, "Bo")
    assert outcome.story.phase == "turns"
    assert outcome.next_player.user_id == BO and outcome.story.deadline == clock.now + 60
    await service.add_turn(CHANNEL, BO, "Bo returns.")


# --- beginning ------------------------------------------------------------------------------------


async def test_only_the_starter_or_a_moderator_can_begin(service: StoryService, db: Database) -> None:
    story = await new_story(service)
    for who in (actor(BO), actor(OUTSIDER), actor(OUTSIDER, roles=(MOD_ROLE,))):
        with pytest.raises(NotAllowed, match="start the story"):
            await service.begin(story.id, who)
    await ModerationService(db).set_moderator_role(actor(MOD, manage=True), MOD_ROLE)
    outcome = await service.begin(story.id, actor(OUTSIDER, roles=(MOD_ROLE,)))  # the configured role
    assert outcome.narrate and (outcome.story.phase, outcome.story.round) == ("narrating", 0)
    with pytest.raises(Conflict, match="already started"):
        await service.begin(story.id, actor(ADA))
    other = await new_story(service, channel=OTHER_CHANNEL)
    assert (await service.begin(other.id, actor(MOD, manage=True))).narrate  # Manage Server


async def test_begin_needs_a_player(service: StoryService) -> None:
    story = await new_story(service, players=1)
    await service.leave(story.id, ADA)
    with pytest.raises(Conflict, match="Nobody has joined"):
        await service.begin(story.id, actor(ADA))


# --- turns ------------------------------------------------------------------------------------------


async def test_opening_then_round_robin_turns(service: StoryService, db: Database, clock: FakeClock) -> None:
    story = await new_story(service, turn_timeout=60)
    await service.begin(story.id, actor(ADA))
    plan = await service.plan_narration(story.id)
    assert (plan.kind, plan.sampling.n, plan.story.round) == ("opening", 1, 0)
    assert "\nAda:" in plan.sampling.stop and "Ada, Bo, Cy" in plan.messages[-1]["content"]
    clock.now += 7
    outcome = await service.complete_narration(plan, ["The caravan halts at dusk."])
    assert outcome.turn.kind == "narrator" and outcome.turn.round == 0
    assert (outcome.story.phase, outcome.story.round) == ("turns", 1)
    assert outcome.next_player.user_id == ADA and outcome.story.deadline == clock.now + 60

    outcome = await service.add_turn(CHANNEL, ADA, "  I light the lantern. ")
    assert (outcome.turn.text, outcome.turn.round, outcome.player.user_id) == ("I light the lantern.", 1, ADA)
    assert outcome.next_player.user_id == BO and not outcome.narrate
    assert (await service.view(CHANNEL)).current.user_id == BO
    await write(service, BO)
    outcome = await write(service, CY)
    assert outcome.narrate and outcome.next_player is None
    assert (outcome.story.phase, outcome.story.deadline) == ("narrating", None)

    plan = await service.plan_narration(story.id)
    assert plan.kind == "round"
    assert "- Ada: I light the lantern.\n- Bo: Bo acts.\n- Cy: Cy acts." in plan.messages[-1]["content"]
    outcome = await service.complete_narration(plan, ["Shadows answer the light."])
    assert (outcome.story.round, outcome.next_player.user_id) == (2, ADA)
    assert shape(await all_turns(db, story.id)) == [
        (0, "narrator", None), (1, "player", ADA), (1, "player", BO), (1, "player", CY), (1, "narrator", None),
    ]  # fmt: skip
    view = await service.view(CHANNEL)
    assert (view.stats.turns, view.stats.by_author, view.round_contributions) == (5, {ADA: 1, BO: 1, CY: 1}, 0)


async def test_turns_are_refused_out_of_turn_and_to_outsiders(service: StoryService) -> None:
    story = await new_story(service)
    with pytest.raises(Conflict, match="still gathering players"):
        await service.add_turn(CHANNEL, ADA, "Too early.")
    await service.begin(story.id, actor(ADA))
    with pytest.raises(Conflict, match="waiting for the narrator"):
        await service.add_turn(CHANNEL, ADA, "Still too early.")
    await narrate(service, story.id)
    with pytest.raises(NotAllowed, match=r"not your turn yet: the story is waiting for \*\*Ada\*\*"):
        await service.add_turn(CHANNEL, BO, "Me first!")
    with pytest.raises(NotAllowed, match="You are not in this story"):
        await service.add_turn(CHANNEL, OUTSIDER, "Let me in.")
    with pytest.raises(NotFound, match="no story running"):
        await service.add_turn(OTHER_CHANNEL, ADA, "Wrong room.")
    with pytest.raises(InputProblem, match="empty"):
        await service.add_turn(CHANNEL, ADA, " \u200b ")
    with pytest.raises(InputProblem, match="limit is 1,800"):
        await service.add_turn(CHANNEL, ADA, "x" * 1801)
    assert (await service.view(CHANNEL)).stats.turns == 1  # only the opening


async def test_free_mode_narrates_every_n_contributions(service: StoryService) -> None:
    story = await started(service, mode="free", narrate_every=2)
    outcome = await write(service, BO)
    assert not outcome.narrate and outcome.next_player is None and outcome.story.deadline is None
    outcome = await write(service, BO)  # anyone, in any order, as often as they like
    assert outcome.narrate and outcome.story.phase == "narrating"
    await narrate(service, story.id)
    with pytest.raises(Conflict, match="Nobody has written since"):
        await service.narrate_now(CHANNEL, actor(ADA))
    await write(service, CY)
    with pytest.raises(NotAllowed):
        await service.narrate_now(CHANNEL, actor(OUTSIDER))
    outcome = await service.narrate_now(CHANNEL, actor(BO))
    assert outcome.narrate and outcome.story.phase == "narrating"
    with pytest.raises(Conflict, match="waiting for the narrator"):
        await service.narrate_now(CHANNEL, actor(BO))


async def test_narrate_now_is_for_free_mode(service: StoryService) -> None:
    await started(service)
    await write(service, ADA)
    with pytest.raises(Conflict, match="round-robin mode"):
        await service.narrate_now(CHANNEL, actor(ADA))


# --- timeouts ---------------------------------------------------------------------------------------


async def test_expire_skips_the_player_whose_time_ran_out(
    service: StoryService, db: Database, clock: FakeClock
) -> None:
    story = await started(service, turn_timeout=60)
    deadline = story.deadline
    clock.now = deadline - 1
    assert await service.expire(story.id, deadline) is None  # the timer fired early: nothing yet
    clock.now = deadline
    assert await service.expire(story.id, deadline - 5) is None  # a stale timer
    outcome = await service.expire(story.id, deadline)
    assert isinstance(outcome, Outcome)
    assert outcome.skipped.user_id == ADA and outcome.turn.kind == "skip"
    assert outcome.next_player.user_id == BO and outcome.story.deadline == clock.now + 60
    assert await service.expire(story.id, deadline) is None  # the same timer again: stale now
    assert shape(await all_turns(db, story.id))[-1] == (1, "skip", ADA)
    assert (await service.view(CHANNEL)).stats.turns == 1  # skips are not turns in the stats


async def test_no_timer_without_a_timeout(service: StoryService) -> None:
    story = await started(service)
    assert story.deadline is None
    assert await service.expire(story.id, T0) is None


async def test_expire_does_nothing_while_paused(service: StoryService, db: Database, clock: FakeClock) -> None:
    story = await started(service, turn_timeout=60)
    await service.pause(CHANNEL, actor(ADA))
    clock.now += 3600
    assert await service.expire(story.id, story.deadline) is None
    assert len(await all_turns(db, story.id)) == 1


async def test_a_round_of_only_skips_pauses_and_resume_moves_the_world_on(
    service: StoryService, clock: FakeClock
) -> None:
    story = await started(service, turn_timeout=60)
    outcome = None
    for _ in range(3):
        clock.now = story.deadline
        outcome = await service.expire(story.id, story.deadline)
        story = outcome.story
    assert outcome.story.paused and outcome.story.deadline is None and not outcome.narrate
    assert "Nobody wrote this round" in outcome.note
    clock.now += 5000
    assert await service.expire(story.id, T0 + 180) is None
    outcome = await service.resume(CHANNEL, actor(ADA))
    assert outcome.narrate and outcome.story.phase == "narrating" and not outcome.story.paused
    plan = await service.plan_narration(story.id)
    assert plan.kind == "round" and "nobody acted this round" in plan.messages[-1]["content"]
    outcome = await service.complete_narration(plan, ["The caravan waits; the salt glitters."])
    assert (outcome.story.round, outcome.next_player.user_id) == (2, ADA)
    assert outcome.story.deadline == clock.now + 60


# --- votes ------------------------------------------------------------------------------------------


async def voting(service: StoryService, *texts: str, **changes: object) -> VoteResult | Outcome:
    story = await started(service, choices=len(texts), **changes)
    await write(service, ADA, BO, CY)
    plan = await service.plan_narration(story.id)
    assert plan.sampling.n == len(texts)
    return await service.complete_narration(plan, list(texts))


async def test_group_choice_opens_a_vote_with_each_version(service: StoryService, clock: FakeClock) -> None:
    outcome = await voting(service, "A storm.", "A stranger.", "A song.")
    assert outcome.story.phase == "voting" and outcome.vote is not None
    assert outcome.vote.options == ("A storm.", "A stranger.", "A song.")
    assert outcome.vote.deadline == outcome.story.deadline == clock.now + 120
    view = await service.view(CHANNEL)
    assert view.vote == outcome.vote and view.ballots == {}
    with pytest.raises(Conflict, match="voting on what happens next"):
        await service.add_turn(CHANNEL, ADA, "Wait!")


async def test_a_vote_offers_the_drafts_best_scored_first(service: StoryService) -> None:
    scene = (
        "The caravan crests the last dune and the salt flats open below, white as bone under the moon. "
        "Far off, a lantern swings where no lantern should be, and the camels stop to listen."
    )
    other = scene.replace("lantern", "torch")
    speaks = other + "\nAda: I lead the way down."  # cleaning cuts Ada's line, but the draft still loses
    as_i = scene.replace("camels", "mules") + " I remember this road, and I will not forget it."
    outcome = await voting(service, speaks, as_i, scene)
    assert outcome.vote is not None
    assert outcome.vote.options == (scene, as_i, other), "best first: clean, then talking as I, then Ada's line"


async def test_best_of_n_narration_posts_the_best_scored_draft_without_a_vote(db: Database, clock: FakeClock) -> None:
    service = StoryService(db, ModerationService(db), clock=clock, narration_drafts=3)
    story = await started(service)
    await write(service, ADA, BO, CY)
    plan = await service.plan_narration(story.id)
    assert (plan.sampling.n, plan.choices) == (3, 1), "three drafts, no vote"
    scene = (
        "The caravan crests the last dune and the salt flats open below, white as bone under the moon. "
        "Far off, a lantern swings where no lantern should be, and the camels stop to listen."
    )
    outcome = await service.complete_narration(plan, ["Short.", scene + " I was there, I swear it.", scene])
    assert outcome.vote is None and outcome.turn is not None and outcome.turn.text == scene


async def test_the_opening_is_never_put_to_a_vote(service: StoryService) -> None:
    story = await new_story(service, choices=3)
    await service.begin(story.id, actor(ADA))
    assert (await service.plan_narration(story.id)).sampling.n == 1


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Same.", "Same.", "Other."], ("Same.", "Other.")),
        (["Same.", " Same. ", "Same."], None),
        (["Kept.", "Ada: I speak for myself.", "   "], None),
    ],
)
async def test_identical_or_empty_versions_collapse(
    service: StoryService, texts: list[str], expected: tuple[str, ...] | None
) -> None:
    outcome = await voting(service, *texts)
    if expected is None:
        assert outcome.vote is None and outcome.turn.kind == "narrator" and outcome.story.phase == "turns"
    else:
        assert outcome.vote.options == expected


async def test_ballots_can_change_and_the_vote_closes_when_all_voted(service: StoryService, db: Database) -> None:
    vote = (await voting(service, "A storm.", "A stranger.", "A song.")).vote
    with pytest.raises(NotAllowed, match="Only the story's players"):
        await service.cast_vote(vote.id, OUTSIDER, 0)
    with pytest.raises(NotFound, match="no such option"):
        await service.cast_vote(vote.id, ADA, 3)
    assert (await service.cast_vote(vote.id, ADA, 2))[1] is False
    assert (await service.cast_vote(vote.id, ADA, 1))[1] is False  # a changed ballot, still one ballot
    await service.cast_vote(vote.id, BO, 1)
    assert (await service.view(CHANNEL)).ballots == {ADA: 1, BO: 1}
    _, everyone = await service.cast_vote(vote.id, CY, 0)
    assert everyone
    result = await service.close_vote(vote.id)
    assert (result.winner, result.tally) == (1, [1, 2, 0])
    assert result.vote.closed_at is not None and result.vote.winner == 1
    assert result.outcome.turn.text == "A stranger." and result.outcome.turn.kind == "narrator"
    assert (result.outcome.story.phase, result.outcome.story.round) == ("turns", 2)
    assert result.outcome.next_player.user_id == ADA
    with pytest.raises(Conflict, match="closed"):
        await service.cast_vote(vote.id, ADA, 0)
    assert await service.close_vote(vote.id) is None
    assert [t.text for t in await all_turns(db, result.vote.story_id) if t.kind == "narrator"] == [
        "OPENING", "A stranger.",
    ]  # fmt: skip


async def test_a_tied_vote_goes_to_the_earlier_option(service: StoryService) -> None:
    vote = (await voting(service, "A storm.", "A stranger.", "A song.")).vote
    await service.cast_vote(vote.id, ADA, 2)
    await service.cast_vote(vote.id, BO, 1)
    result = await service.close_vote(vote.id)
    assert (result.winner, result.tally, result.outcome.turn.text) == (1, [0, 1, 1], "A stranger.")


async def test_an_unanswered_vote_closes_at_its_deadline_on_the_first_option(
    service: StoryService, clock: FakeClock
) -> None:
    outcome = await voting(service, "A storm.", "A stranger.", turn_timeout=45)
    deadline = outcome.story.deadline
    assert deadline == clock.now + 45  # votes last as long as a turn
    assert await service.expire(outcome.story.id, deadline) is None  # not yet
    clock.now = deadline
    result = await service.expire(outcome.story.id, deadline)
    assert isinstance(result, VoteResult)
    assert (result.winner, result.tally, result.outcome.turn.text) == (0, [0, 0], "A storm.")
    assert result.outcome.story.deadline == clock.now + 45 and result.outcome.next_player.user_id == ADA


# --- undo -------------------------------------------------------------------------------------------


async def test_undo_a_player_turn_gives_that_player_the_turn_back(
    service: StoryService, db: Database, clock: FakeClock
) -> None:
    story = await started(service, turn_timeout=60)
    await write(service, ADA, BO)
    clock.now += 45
    outcome = await service.undo(CHANNEL, actor(ADA))
    assert (outcome.turn.author_id, outcome.turn.kind) == (BO, "player")
    assert outcome.next_player.user_id == BO and outcome.story.deadline == clock.now + 60
    assert shape(await all_turns(db, story.id)) == [(0, "narrator", None), (1, "player", ADA)]
    with pytest.raises(NotAllowed):
        await write(service, CY)


async def test_undo_a_skip_gives_the_skipped_player_another_chance(service: StoryService, clock: FakeClock) -> None:
    story = await started(service, turn_timeout=60)
    clock.now = story.deadline
    await service.expire(story.id, story.deadline)
    outcome = await service.undo(CHANNEL, actor(MOD, manage=True))
    assert outcome.turn.kind == "skip" and outcome.next_player.user_id == ADA


async def test_undo_the_narrator_holds_the_story_for_a_retry(service: StoryService, db: Database) -> None:
    story = await started(service, turn_timeout=60)
    await write(service, ADA, BO, CY)
    await narrate(service, story.id, "FIRST")
    outcome = await service.undo(CHANNEL, actor(ADA))
    assert outcome.turn.text == "FIRST"
    assert (outcome.story.phase, outcome.story.round, outcome.story.deadline) == ("held", 1, None)
    assert "/story retry" in outcome.note
    with pytest.raises(Conflict, match="waiting for `/story retry`"):
        await service.add_turn(CHANNEL, ADA, "Hello?")
    outcome = await service.retry(CHANNEL, actor(BO))
    assert outcome.narrate and outcome.story.phase == "narrating"
    plan = await service.plan_narration(story.id)
    assert plan.kind == "round" and "- Cy: Cy acts." in plan.messages[-1]["content"]
    outcome = await service.complete_narration(plan, ["SECOND"])
    assert (outcome.story.round, outcome.next_player.user_id) == (2, ADA)
    assert [t.text for t in await all_turns(db, story.id) if t.kind == "narrator"] == ["OPENING", "SECOND"]


async def test_undo_goes_back_past_the_narrator_turn_by_turn(service: StoryService) -> None:
    story = await started(service)
    await write(service, ADA, BO, CY)
    await narrate(service, story.id)
    await service.undo(CHANNEL, actor(ADA))
    outcome = await service.undo(CHANNEL, actor(ADA))
    assert (outcome.turn.author_id, outcome.story.phase, outcome.story.round) == (CY, "turns", 1)
    assert outcome.next_player.user_id == CY


async def test_undo_back_to_the_beginning(service: StoryService) -> None:
    story = await started(service)
    outcome = await service.undo(CHANNEL, actor(ADA))  # the opening itself
    assert (outcome.story.phase, outcome.story.round) == ("held", 0)
    with pytest.raises(NotFound, match="nothing to undo"):
        await service.undo(CHANNEL, actor(ADA))
    await service.retry(CHANNEL, actor(ADA))
    assert (await service.plan_narration(story.id)).kind == "opening"


async def test_undo_permissions_and_phases(service: StoryService) -> None:
    story = await new_story(service, choices=2)
    with pytest.raises(Conflict, match="still gathering players"):
        await service.undo(CHANNEL, actor(ADA))
    await service.begin(story.id, actor(ADA))
    with pytest.raises(Conflict, match="waiting for the narrator"):
        await service.undo(CHANNEL, actor(ADA))
    await narrate(service, story.id)
    await write(service, ADA)
    with pytest.raises(NotAllowed, match="undo turns"):
        await service.undo(CHANNEL, actor(BO))  # a player, but not the starter
    await service.undo(CHANNEL, actor(OUTSIDER, manage=True))
    await write(service, ADA, BO, CY)
    await narrate(service, story.id, "One.", "Two.")
    with pytest.raises(Conflict, match="voting"):
        await service.undo(CHANNEL, actor(ADA))


async def test_undo_stops_at_what_the_summary_already_holds(
    service: StoryService, narrator: Narrator, fake_engine: ScriptedEngine, db: Database
) -> None:
    service.memory.budget = 200  # a small budget makes the summary due quickly
    story = await started(service)
    for _ in range(3):
        for user_id in (ADA, BO, CY):
            await service.add_turn(CHANNEL, user_id, f"{NAMES[user_id]} walks a long way across the white salt. " * 3)
        await narrate(service, story.id)
    fake_engine.answers = ["They walked far."]
    assert await narrator.refresh_summary(story.id)
    upto = (await service.view(CHANNEL)).story.summary_upto
    remaining = [t for t in await all_turns(db, story.id) if t.seq > upto]
    for _ in remaining:
        await service.undo(CHANNEL, actor(ADA))
    with pytest.raises(Conflict, match="summary"):
        await service.undo(CHANNEL, actor(ADA))
    assert [t.seq for t in await all_turns(db, story.id)][-1] == upto


# --- retry ------------------------------------------------------------------------------------------


async def test_a_narration_cut_short_goes_on_only_while_it_is_the_last_word(service: StoryService) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    plan = await service.plan_narration(story.id)
    outcome = await service.complete_narration(plan, ["The snow falls on the inn. A lantern flick"], truncated=True)
    turn = outcome.turn
    assert turn is not None and turn.text == "The snow falls on the inn." and outcome.next_player is not None

    with pytest.raises(NotAllowed):
        await service.plan_continuation(turn.id, actor(OUTSIDER))
    more, kept = await service.plan_continuation(turn.id, actor(BO))
    assert kept == turn and "stops short" in more.messages[-1]["content"] and more.sampling.n == 1
    longer = await service.extend_narration(more, kept, "Its light wakes the innkeeper. He lo", truncated=True)
    assert longer.text == "The snow falls on the inn.\n\nIts light wakes the innkeeper."
    assert (await service.view(CHANNEL)).stats.words == longer.words == 11

    again, _ = await service.plan_continuation(turn.id, actor(ADA))
    await write(service, ADA)  # the story moves on while the narrator writes
    with pytest.raises(Conflict, match="moved on"):
        await service.extend_narration(again, longer, "More snow.", truncated=False)
    with pytest.raises(Conflict, match="moved on"):
        await service.plan_continuation(turn.id, actor(ADA))
    with pytest.raises(NotFound):
        await service.plan_continuation(10_000, actor(ADA))


async def test_retry_replaces_the_last_narration(service: StoryService, db: Database) -> None:
    story = await started(service, turn_timeout=60)
    await write(service, ADA, BO, CY)
    await narrate(service, story.id, "FIRST")
    outcome = await service.retry(CHANNEL, actor(CY))  # any player may ask
    assert outcome.narrate and (outcome.story.phase, outcome.story.round, outcome.story.deadline) == (
        "narrating", 1, None,
    )  # fmt: skip
    outcome = await narrate(service, story.id, "SECOND")
    assert outcome.story.round == 2
    narrations = [(t.round, t.text) for t in await all_turns(db, story.id) if t.kind == "narrator"]
    assert narrations == [(0, "OPENING"), (1, "SECOND")]


async def test_retry_is_refused_once_players_wrote_after_the_narrator(service: StoryService) -> None:
    story = await started(service)
    await write(service, ADA, BO, CY)
    await narrate(service, story.id)
    await write(service, ADA)
    with pytest.raises(Conflict, match="Players have written since"):
        await service.retry(CHANNEL, actor(ADA))


async def test_retry_during_a_vote_cancels_it(service: StoryService, db: Database) -> None:
    outcome = await voting(service, "One.", "Two.")
    vote = outcome.vote
    retried = await service.retry(CHANNEL, actor(BO))
    assert retried.narrate and (retried.story.phase, retried.story.round) == ("narrating", 1)
    assert retried.cancelled_vote is not None and retried.cancelled_vote.id == vote.id, "its message is closed"
    with pytest.raises(Conflict, match="closed"):
        await service.cast_vote(vote.id, ADA, 0)
    assert await service.close_vote(vote.id) is None
    outcome = await narrate(service, outcome.story.id, "Three.", "Four.")
    assert outcome.vote.options == ("Three.", "Four.") and outcome.vote.id != vote.id


async def test_retry_refusals(service: StoryService) -> None:
    story = await new_story(service)
    with pytest.raises(Conflict, match="gathering players"):
        await service.retry(CHANNEL, actor(ADA))
    await service.begin(story.id, actor(ADA))
    with pytest.raises(Conflict, match="waiting for the narrator"):
        await service.retry(CHANNEL, actor(ADA))
    await narrate(service, story.id)
    with pytest.raises(NotAllowed):
        await service.retry(CHANNEL, actor(OUTSIDER))
    await service.pause(CHANNEL, actor(ADA))
    with pytest.raises(Conflict, match="paused"):
        await service.retry(CHANNEL, actor(ADA))


# --- editing ----------------------------------------------------------------------------------------


async def test_edit_last_changes_your_own_turn_in_the_current_round(
    service: StoryService, db: Database, clock: FakeClock
) -> None:
    story = await started(service)
    await service.add_turn(CHANNEL, ADA, "I open the door.")
    await write(service, BO)
    clock.now += 30
    edited = await service.edit_last(CHANNEL, ADA, "I open the iron door slowly.")
    assert edited.text == "I open the iron door slowly." and edited.author_id == ADA
    stored = next(t for t in await all_turns(db, story.id) if t.id == edited.id)
    assert (stored.text, stored.words, stored.edited_at) == ("I open the iron door slowly.", 6, clock.now)
    assert stored.tokens == service.memory.counter.count("I open the iron door slowly.")
    with pytest.raises(NotAllowed, match="your own turn"):
        await service.edit_last(CHANNEL, CY, "I have not written yet.")
    with pytest.raises(InputProblem):
        await service.edit_last(CHANNEL, ADA, "")
    await write(service, CY)
    with pytest.raises(NotAllowed, match="before the narrator"):
        await service.edit_last(CHANNEL, ADA, "Too late, the narrator is writing.")
    await narrate(service, story.id)
    with pytest.raises(NotAllowed):
        await service.edit_last(CHANNEL, ADA, "Last round's turn is woven in.")


async def test_a_skipped_turn_cannot_be_edited_into_a_turn(service: StoryService, clock: FakeClock) -> None:
    story = await started(service, turn_timeout=60)
    clock.now = story.deadline
    await service.expire(story.id, story.deadline)
    with pytest.raises(NotAllowed, match="your own turn"):
        await service.edit_last(CHANNEL, ADA, "I was here all along.")


# --- pause, resume, end -----------------------------------------------------------------------------


async def test_pause_clears_the_deadline_and_resume_rearms_it(service: StoryService, clock: FakeClock) -> None:
    story = await started(service, turn_timeout=60)
    await write(service, ADA)
    clock.now += 50
    paused = await service.pause(CHANNEL, actor(ADA))
    assert paused.paused and paused.deadline is None
    with pytest.raises(Conflict, match="paused"):
        await write(service, BO)
    with pytest.raises(Conflict, match="already paused"):
        await service.pause(CHANNEL, actor(ADA))
    with pytest.raises(NotAllowed, match="resume the story"):
        await service.resume(CHANNEL, actor(BO))
    clock.now += 1000
    outcome = await service.resume(CHANNEL, actor(MOD, manage=True))
    assert not outcome.story.paused and outcome.next_player.user_id == BO
    assert outcome.story.deadline == clock.now + 60
    with pytest.raises(Conflict, match="not paused"):
        await service.resume(CHANNEL, actor(ADA))
    assert story.id == outcome.story.id


async def test_pause_refusals(service: StoryService) -> None:
    await new_story(service)
    with pytest.raises(Conflict, match="has not started"):
        await service.pause(CHANNEL, actor(ADA))
    with pytest.raises(NotAllowed, match="pause the story"):
        await service.pause(CHANNEL, actor(BO))


async def test_resume_refreshes_the_vote_deadline(service: StoryService, clock: FakeClock) -> None:
    outcome = await voting(service, "One.", "Two.")
    old = outcome.story.deadline
    await service.pause(CHANNEL, actor(ADA))
    clock.now = old + 500
    assert await service.expire(outcome.story.id, old) is None
    resumed = await service.resume(CHANNEL, actor(ADA))
    assert resumed.story.phase == "voting" and resumed.story.deadline == clock.now + 120
    assert (await service.view(CHANNEL)).vote.deadline == clock.now + 120
    assert await service.expire(outcome.story.id, old) is None
    clock.now += 120
    result = await service.expire(outcome.story.id, resumed.story.deadline)
    assert isinstance(result, VoteResult) and result.winner == 0


async def test_resume_after_a_pause_during_narration_asks_for_it_again(service: StoryService) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    await service.pause(CHANNEL, actor(ADA))  # and, say, the bot restarts before the narrator finished
    outcome = await service.resume(CHANNEL, actor(ADA))
    assert outcome.narrate and outcome.story.phase == "narrating"


async def test_a_narration_finished_while_paused_waits_for_resume(service: StoryService, clock: FakeClock) -> None:
    story = await new_story(service, turn_timeout=60)
    await service.begin(story.id, actor(ADA))
    plan = await service.plan_narration(story.id)
    await service.pause(CHANNEL, actor(ADA))
    outcome = await service.complete_narration(plan, ["The opening."])
    assert outcome.turn is not None and outcome.story.paused and outcome.story.deadline is None
    assert outcome.next_player is None
    outcome = await service.resume(CHANNEL, actor(ADA))
    assert outcome.next_player.user_id == ADA and outcome.story.deadline == clock.now + 60


async def test_end_closes_the_story_and_its_vote(service: StoryService, db: Database, clock: FakeClock) -> None:
    outcome = await voting(service, "One.", "Two.")
    with pytest.raises(NotAllowed, match="end the story"):
        await service.end(CHANNEL, actor(BO))
    clock.now += 10
    result = await service.end(CHANNEL, actor(OUTSIDER, manage=True))
    ended = result.story
    assert (ended.phase, ended.ended_at, ended.deadline) == ("ended", clock.now, None)
    assert result.cancelled_vote is not None and result.cancelled_vote.id == outcome.vote.id
    assert result.cancelled_vote.closed_at == clock.now, "the runner closes its message: it must read as closed"
    with pytest.raises(Conflict, match="closed"):
        await service.cast_vote(outcome.vote.id, ADA, 0)
    with pytest.raises(NotFound):
        await service.view(CHANNEL)
    with pytest.raises(NotFound):
        await service.end(CHANNEL, actor(ADA))
    assert await service.open_stories() == []
    story, players, turns = await service.transcript(CHANNEL)
    assert story.id == ended.id and len(players) == 3 and len(turns) == 4


# --- the last round ---------------------------------------------------------------------------------


async def test_the_last_round_ends_with_an_ending_and_no_vote(service: StoryService, clock: FakeClock) -> None:
    story = await started(service, max_rounds=2, choices=2)
    await write(service, ADA, BO, CY)
    vote = (await narrate(service, story.id, "One.", "Two.")).vote
    result = await service.close_vote(vote.id)
    assert result.outcome.story.round == 2 and result.outcome.story.phase == "turns"
    await write(service, ADA, BO, CY)
    plan = await service.plan_narration(story.id)
    assert (plan.kind, plan.sampling.n) == ("ending", 1)
    assert "ending of the story" in plan.messages[-1]["content"]
    clock.now += 3
    outcome = await service.complete_narration(plan, ["And so the caravan came home."])
    assert (outcome.story.phase, outcome.story.ended_at) == ("ended", clock.now)
    assert outcome.turn.text == "And so the caravan came home." and outcome.next_player is None
    assert await service.open_stories() == []


# --- narrations that fail or come too late ------------------------------------------------------------


async def test_a_narration_for_an_ended_story_saves_nothing(service: StoryService, db: Database) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    plan = await service.plan_narration(story.id)
    await service.end(CHANNEL, actor(ADA))
    outcome = await service.complete_narration(plan, ["Too late."])
    assert outcome.turn is None and "moved on" in outcome.note
    assert await all_turns(db, story.id) == []


async def test_a_narration_for_an_undone_round_saves_nothing(service: StoryService, db: Database) -> None:
    story = await started(service)
    await write(service, ADA, BO, CY)
    plan = await service.plan_narration(story.id)
    await service.fail_narration(story.id, "The engine hiccuped.")
    await service.undo(CHANNEL, actor(ADA))  # Cy's turn is gone: the round is open again
    outcome = await service.complete_narration(plan, ["A late answer."])
    assert outcome.turn is None and "moved on" in outcome.note
    assert [t.kind for t in await all_turns(db, story.id)] == ["narrator", "player", "player"]
    assert (await service.view(CHANNEL)).current.user_id == CY


async def test_a_failed_narration_holds_the_story_with_nothing_saved(service: StoryService, db: Database) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    await service.plan_narration(story.id)
    outcome = await service.fail_narration(story.id, "The storyteller is busy.")
    assert outcome.story.phase == "held" and outcome.turn is None
    assert outcome.note.startswith("The storyteller is busy. Nothing was saved")
    assert await all_turns(db, story.id) == []
    with pytest.raises(Conflict, match="not waiting for the narrator"):
        await service.plan_narration(story.id)
    assert (await service.retry(CHANNEL, actor(ADA))).narrate


@pytest.mark.parametrize("texts", [[""], ["  \n\n  "], ["Ada: I speak for Ada.\nThe end."], ["Narrator:   "]])
async def test_an_empty_narration_counts_as_a_failure(service: StoryService, db: Database, texts: list[str]) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    outcome = await narrate(service, story.id, *texts)
    assert outcome.story.phase == "held" and outcome.turn is None and "found no words" in outcome.note
    assert await all_turns(db, story.id) == []


async def test_a_streamed_narration_is_stored_clean(
    service: StoryService, fake_engine: ScriptedEngine, db: Database
) -> None:
    story = await new_story(service)
    await service.begin(story.id, actor(ADA))
    fake_engine.answers = ["Narrator: Dust rises over @everyone.\n\nBo: I cough.\nThe wind dies."]
    plan = await service.plan_narration(story.id)
    text = ""
    async for event in fake_engine.stream(plan.messages, tenant=str(GUILD), sampling=plan.sampling):
        if isinstance(event, TextDelta):
            text += event.text
    outcome = await service.complete_narration(plan, [text])
    assert outcome.turn.text == "Dust rises over @\u200beveryone."
    assert [t.text for t in await all_turns(db, story.id)] == [outcome.turn.text]


# --- pins, notes, summary, recap --------------------------------------------------------------------


async def test_pins_and_the_authors_note_reach_the_narrator(service: StoryService) -> None:
    story = await started(service)
    pin = await service.pin(CHANNEL, actor(BO), "The moon is green.")
    with pytest.raises(NotAllowed):
        await service.pin(CHANNEL, actor(OUTSIDER), "Outsiders cannot pin.")
    with pytest.raises(NotAllowed, match="author's note"):
        await service.set_note(CHANNEL, actor(BO), "Make it grim.")
    await service.set_note(CHANNEL, actor(ADA), "Keep it cosy.")
    await write(service, ADA, BO, CY)
    plan = await service.plan_narration(story.id)
    system, user = plan.messages[0]["content"], plan.messages[-1]["content"]
    assert "- The moon is green." in system and "[Author's note: Keep it cosy.]" in user
    assert plan.prompt_tokens <= service.memory.budget
    assert [p.text for p in await service.pins(CHANNEL)] == ["The moon is green."]
    with pytest.raises(NotFound, match="no pinned fact"):
        await service.unpin(CHANNEL, actor(BO), pin.id + 100)
    await service.unpin(CHANNEL, actor(CY), pin.id)
    assert await service.pins(CHANNEL) == []
    assert (await service.set_note(CHANNEL, actor(ADA), "")).author_note == ""


async def test_a_moderator_acting_on_someone_elses_story_is_audited(service: StoryService, db: Database) -> None:
    moderation, mod = ModerationService(db), actor(MOD, manage=True)
    story = await new_story(service)
    await service.begin(story.id, mod)
    await narrate(service, story.id, "OPENING")
    await write(service, ADA)
    await service.undo(CHANNEL, mod)
    pin = await service.pin(CHANNEL, mod, "The moon is green.")
    await service.unpin(CHANNEL, mod, pin.id)
    await service.set_note(CHANNEL, mod, "Keep it cosy.")
    await service.pause(CHANNEL, mod)
    await service.resume(CHANNEL, mod)
    await service.retry(CHANNEL, mod)
    await narrate(service, story.id)
    free = await new_story(service, channel=OTHER_CHANNEL, players=1, mode="free")
    await service.begin(free.id, actor(ADA))
    await narrate(service, free.id)
    await write(service, ADA, channel=OTHER_CHANNEL)
    await service.narrate_now(OTHER_CHANNEL, mod)
    await service.end(CHANNEL, mod)
    context = {"channel": CHANNEL, "starter": ADA, "title": "The Salt Road"}
    entries = list(reversed(await moderation.audit_log(GUILD, limit=20)))
    assert [(e.actor_id, e.action, e.detail) for e in entries] == [
        (MOD, "story.start", context),
        (MOD, "story.undo", {**context, "turn": 2, "author": ADA}),
        (MOD, "story.pin", {**context, "pin": pin.id, "fact": "The moon is green."}),
        (MOD, "story.unpin", {**context, "pin": pin.id, "fact": "The moon is green."}),
        (MOD, "story.note", {**context, "note": "Keep it cosy."}),
        (MOD, "story.pause", context),
        (MOD, "story.resume", context),
        (MOD, "story.retry", context),
        (MOD, "story.narrate", {**context, "channel": OTHER_CHANNEL}),
        (MOD, "story.end", context),
    ]


async def test_the_starter_and_players_are_not_audited(service: StoryService, db: Database) -> None:
    """Only a moderator's rights leave a trace: a moderator who started the story is its starter here."""
    await started(service)
    pin = await service.pin(CHANNEL, actor(BO, manage=True), "A player's fact.")  # a moderator, but playing
    await service.unpin(CHANNEL, actor(CY), pin.id)
    await service.set_note(CHANNEL, actor(ADA, manage=True), "Keep it cosy.")
    await service.pause(CHANNEL, actor(ADA))
    await service.resume(CHANNEL, actor(ADA))
    await service.end(CHANNEL, actor(ADA))
    assert await ModerationService(db).audit_log(GUILD) == []


async def test_a_refused_action_is_not_audited(service: StoryService, db: Database) -> None:
    await started(service)
    with pytest.raises(Conflict):
        await service.resume(CHANNEL, actor(MOD, manage=True))  # not paused: nothing changed, nothing recorded
    assert await ModerationService(db).audit_log(GUILD) == []


async def test_a_story_pins_at_most_max_pins_facts(service: StoryService) -> None:
    await started(service)
    for i in range(MAX_PINS):
        await service.pin(CHANNEL, actor(ADA), f"Fact {i}.")
    with pytest.raises(Conflict, match=f"at most {MAX_PINS}"):
        await service.pin(CHANNEL, actor(ADA), "One too many.")


async def test_refresh_summary_folds_old_turns_and_the_prompt_skips_them(
    service: StoryService, narrator: Narrator, fake_engine: ScriptedEngine, db: Database
) -> None:
    service.memory.budget = 300
    story = await started(service)
    await write(service, ADA)
    assert not await narrator.refresh_summary(story.id)  # too little to fold yet
    assert fake_engine.requests == []
    for n in range(8):
        await service.add_turn(CHANNEL, [BO, CY, ADA][n % 3], f"Event number {n} happens at the old salt well. " * 2)
        if n % 3 == 1:
            await narrate(service, story.id, f"Narration {n}.")
    fake_engine.answers = ["Narrator: The caravan reached the well."]
    assert await narrator.refresh_summary(story.id)
    messages, tenant, _ = fake_engine.requests[-1]
    assert tenant == str(GUILD) and "OPENING" in messages[-1]["content"]
    view = await service.view(CHANNEL)
    assert view.story.summary == "The caravan reached the well."
    turns = await all_turns(db, story.id)
    folded = [t for t in turns if t.seq <= view.story.summary_upto]
    assert folded and len([t for t in turns if t.seq > view.story.summary_upto]) >= 4
    async with db.read() as conn:
        prompt = await service.memory.build(conn, view.story, view.players, "Continue.")
    assert prompt.summary_used and "The caravan reached the well." in prompt.messages[0]["content"]
    assert "OPENING" not in prompt.messages[-1]["content"]
    assert all(t.text not in prompt.messages[-1]["content"] for t in folded)


async def test_recap_is_written_fresh_by_the_engine(
    service: StoryService, narrator: Narrator, fake_engine: ScriptedEngine
) -> None:
    await started(service)
    await write(service, ADA)
    fake_engine.answers = ["Narrator: Previously, a caravan crossed the salt. @everyone gasped."]
    story, text = await narrator.recap(CHANNEL)
    assert story.channel_id == CHANNEL
    assert text == "Previously, a caravan crossed the salt. @\u200beveryone gasped."
    messages, tenant, sampling = fake_engine.requests[-1]
    assert tenant == str(GUILD) and "Ada acts." in messages[-1]["content"] and sampling.n == 1
    assert (await service.view(CHANNEL)).stats.turns == 2  # nothing stored


# --- restarts ---------------------------------------------------------------------------------------


async def test_a_restarted_service_sees_exactly_the_same_stories(tmp_path: Path) -> None:
    path, clock = tmp_path / "s.db", FakeClock()
    async with Database.open(path) as db:
        first = StoryService(db, ModerationService(db), clock=clock)
        story = await started(first, turn_timeout=60)
        await write(first, ADA)
        clock.now += 10
        await write(first, BO)  # Cy's turn, with a deadline
        other = await started(first, channel=OTHER_CHANNEL, choices=2)
        await write(first, ADA, BO, CY, channel=OTHER_CHANNEL)
        vote = (await narrate(first, other.id, "One.", "Two.")).vote
        await first.cast_vote(vote.id, BO, 1)
        before = (await first.view(CHANNEL), await first.view(OTHER_CHANNEL))
    async with Database.open(path) as db:
        second = StoryService(db, ModerationService(db), clock=clock)
        after = (await second.view(CHANNEL), await second.view(OTHER_CHANNEL))
        assert after == before
        assert (after[0].story.phase, after[0].story.round, after[0].current.user_id) == ("turns", 1, CY)
        assert after[0].story.deadline == clock.now + 60
        assert (after[1].story.phase, after[1].vote, after[1].ballots) == ("voting", vote, {BO: 1})
        assert {s.id for s in await second.open_stories()} == {story.id, other.id}
        clock.now = after[0].story.deadline
        skipped = await second.expire(story.id, after[0].story.deadline)  # the old timer, re-armed
        assert skipped.skipped.user_id == CY and skipped.narrate
        await second.cast_vote(vote.id, ADA, 1)
        assert (await second.close_vote(vote.id)).winner == 1


# --- with the real engine -----------------------------------------------------------------------------


async def narrated(narrator: Narrator, plan: NarrationPlan, seed: int) -> Outcome:
    """What the cog's runner does: let the narrator write (streamed, or versions for a vote) and store it."""
    plan = replace(plan, sampling=replace(plan.sampling, seed=seed))
    events = [event async for event in narrator.narrate(plan)]
    final = events[-1]
    assert isinstance(final, NarrationDone | VoteChoices), final
    if plan.batched:
        assert isinstance(events[0], Choosing)
    else:
        assert any(isinstance(e, TextDelta) and e.text for e in events)
    return final.outcome


async def test_a_story_narrated_by_the_real_engine(engine: EngineProcess, db: Database, clock: FakeClock) -> None:
    async with EngineClient(engine.url) as client:
        service = StoryService(db, ModerationService(db), narration_tokens=16, clock=clock)
        narrator = Narrator(service, client)
        story = await new_story(service, choices=2, turn_timeout=60)
        await service.begin(story.id, actor(ADA))

        plan = await service.plan_narration(story.id)
        assert plan.kind == "opening" and 0 < plan.prompt_tokens <= service.memory.budget
        outcome = await narrated(narrator, plan, seed=11)
        assert outcome.turn is not None, outcome.note
        assert (outcome.turn.kind, outcome.turn.round, outcome.story.phase, outcome.story.round) == (
            "narrator", 0, "turns", 1,
        )  # fmt: skip
        assert outcome.turn.text.strip() and outcome.next_player.user_id == ADA

        await write(service, ADA, BO, CY)
        plan = await service.plan_narration(story.id)
        assert (plan.kind, plan.sampling.n) == ("round", 2)
        outcome = await narrated(narrator, plan, seed=12)
        assert outcome.story.phase == "voting", outcome.note
        assert len(outcome.vote.options) == 2 and all(o.strip() for o in outcome.vote.options)
        clock.now = outcome.story.deadline
        result = await service.expire(story.id, outcome.story.deadline)
        assert isinstance(result, VoteResult) and result.outcome.turn.text == outcome.vote.options[0]

    turns = await all_turns(db, story.id)
    assert shape(turns) == [
        (0, "narrator", None), (1, "player", ADA), (1, "player", BO), (1, "player", CY), (1, "narrator", None),
    ]  # fmt: skip
    assert all(t.tokens > 0 and t.words > 0 for t in turns)
    assert (await service.view(CHANNEL)).story.round == 2
