"""bot.poems.PoemService: validation, composing through the engine, and the anthology's rules."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

import bot.poems
from bot.craft import FORMS
from bot.errors import NotAllowed, NotFound
from bot.llm.client import EngineClient, EngineDown, EngineError, Finished, Queued, TextDelta
from bot.poems import PAGE_SIZE, PoemDone, PoemRequest, PoemService
from bot.text import InputProblem, defuse_mentions
from storage import guilds
from storage import poems as repo
from storage.db import Database
from storage.poems import Poem
from tests.bot.conftest import Handler, StartServer
from tests.support.engine_proc import EngineProcess, free_port

GUILD, CHANNEL, AUTHOR, OTHER, MOD = 100, 200, 300, 301, 302


@pytest.fixture
async def service(db: Database) -> AsyncIterator[PoemService]:
    # Rules that never reach the engine; an unopened client fails loudly if one does.
    yield PoemService(db, EngineClient("http://127.0.0.1:1"))


@pytest.fixture
def short_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poems of a few tokens: the real model on a CPU writes about 30 tokens a second."""
    for name, form in FORMS.items():
        monkeypatch.setitem(FORMS, name, dataclasses.replace(form, max_tokens=min(form.max_tokens, 12)))


def request(topic: str = "the moon over the harbour", **fields: object) -> PoemRequest:
    return PoemRequest(guild_id=GUILD, channel_id=CHANNEL, author_id=AUTHOR, topic=topic, **fields)  # type: ignore[arg-type]


async def count_poems(db: Database) -> int:
    async with db.read() as conn, conn.execute("SELECT COUNT(*) FROM poems") as cur:
        return (await cur.fetchone())[0]


async def finished_poem(db: Database, service: PoemService, text: str = "a finished poem", **fields: object) -> Poem:
    poem = await service.create(request(**fields))
    async with db.transaction() as conn:
        await repo.set_text(conn, poem.id, text)
    return await service.get(poem.id)


async def compose_all(service: PoemService, poem: Poem) -> list:
    return [event async for event in service.compose(poem)]


# --- create -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "problem", "message"),
    [
        ({"topic": ""}, InputProblem, "The topic is empty (invisible characters don't count). Please write something."),
        ({"topic": "  \n\t "}, InputProblem, "The topic is empty"),
        ({"topic": "\u200b\u200d\ufeff\u2060"}, InputProblem, "The topic is empty"),
        (
            {"topic": "t" * 5000},
            InputProblem,
            "The topic is 5,000 characters long; the limit is 200. Please shorten it.",
        ),
        ({"form": "rap battle"}, NotFound, "There is no form called 'rap battle' in English. Pick one of: haiku,"),
        ({"form": "sonnet", "language": "中文"}, NotFound, "There is no form called 'sonnet' in Chinese (中文)."),
        ({"form": "acrostic"}, InputProblem, "An acrostic needs a word"),
        ({"form": "acrostic", "word": "a" * 21}, InputProblem, "The word has 21 letters; an acrostic takes at most 20"),
        ({"form": "haiku", "word": "MOON"}, InputProblem, "The word option is for acrostic poems only"),
        ({"mood": "m" * 61}, InputProblem, "The mood is 61 characters long; the limit is 60. Please shorten it."),
        ({"language": "l" * 41}, InputProblem, "The language is 41 characters long; the limit is 40."),
    ],
)
async def test_create_refuses_bad_requests_with_a_helpful_message(
    db: Database, service: PoemService, fields: dict, problem: type[Exception], message: str
) -> None:
    with pytest.raises(problem) as info:
        await service.create(request(**fields))
    assert str(info.value).startswith(message)
    assert await count_poems(db) == 0


async def test_create_normalizes_and_stores(db: Database, service: PoemService) -> None:
    poem = await service.create(
        request("  the moon\nover\r\nthe harbour \u200b", form=" Haiku ", mood=" calm ", language=" Deutsch ")
    )
    assert (poem.topic, poem.form, poem.mood, poem.language) == (
        "the moon over the harbour",
        "haiku",
        "calm",
        "Deutsch",
    )
    assert (poem.guild_id, poem.channel_id, poem.author_id, poem.text) == (GUILD, CHANNEL, AUTHOR, "")
    assert await service.get(poem.id) == poem
    assert (await service.create(request(form=""))).form == "free verse"  # the default form
    acrostic = await service.create(request(form="acrostic", word="@everyone"))
    assert acrostic.word == "@\u200beveryone", "the word is echoed in the prompt: kept, but defused"
    chinese = await service.create(request("月", form="五言绝句", language="中文"))
    assert (chinese.form, chinese.language) == ("wuyan jueju", "zh"), "a checked language is kept by its code"


async def test_every_form_asks_for_its_own_rules(service: PoemService) -> None:
    for form in FORMS.values():
        if form.language != "en":
            continue
        word = "RAIN" if form.acrostic else ""
        poem = await service.create(request("rain", form=form.name, mood="wistful", language="French", word=word))
        system, user = service.messages(poem)
        assert system["role"] == "system" and user["role"] == "user"
        assert form.rules.replace("{word}", word) in user["content"] and '"rain"' in user["content"]
        assert '"wistful"' in user["content"] and '"French"' in user["content"]
        assert service.sampling(poem).max_tokens == form.max_tokens


# --- compose, with the real engine --------------------------------------------------------------------


async def test_compose_streams_and_stores_a_mention_free_poem(
    db: Database, engine: EngineProcess, short_forms: None
) -> None:
    async with EngineClient(engine.url) as client:
        service = PoemService(db, client)
        poem = await service.create(request("@everyone, write @everyone and @here and <@&123> into the poem"))
        events = await compose_all(service, poem)
    assert isinstance(events[0], Queued)
    assert isinstance(events[-1], PoemDone)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert deltas, "the engine wrote nothing"
    assert all(isinstance(e, Queued | TextDelta) for e in events[:-1])
    done = events[-1]
    assert done.poem.id == poem.id and done.poem.text
    assert done.poem.text == deltas[-1].text  # the last thing shown is what was stored
    assert await service.get(poem.id) == done.poem
    for text in [*(d.text for d in deltas), done.poem.text]:
        assert "@everyone" not in text and "@here" not in text and "<@&123>" not in text
        assert defuse_mentions(text) == text and text == text.strip()


async def test_compose_reports_truncation_when_the_form_runs_out_of_tokens(
    db: Database, engine: EngineProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FORMS, "en:sonnet", dataclasses.replace(FORMS["en:sonnet"], max_tokens=3))
    async with EngineClient(engine.url) as client:
        service = PoemService(db, client)
        poem = await service.create(request("a very long story about everything", form="sonnet"))
        done = (await compose_all(service, poem))[-1]
    assert isinstance(done, PoemDone)
    assert done.truncated is True
    assert done.poem.text


async def test_a_dead_engine_leaves_the_stored_poem_unchanged(db: Database) -> None:
    async with EngineClient(f"http://127.0.0.1:{free_port()}", connect_retries=0) as dead:
        service = PoemService(db, dead)
        poem = await finished_poem(db, service, text="the first take")
        with pytest.raises(EngineDown):
            await compose_all(service, poem)
    assert (await service.get(poem.id)).text == "the first take"


# --- compose, with a scripted engine (exact text, exact finish) ---------------------------------------


def scripted_chat(parts: list[str], finish: str | None, bodies: list[dict], fail: bool = False) -> Handler:
    """An engine stand-in that streams `parts`, then finishes with `finish` or fails with an error event."""

    async def chat(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Queue-Position": "3"})
        await response.prepare(request)
        for text in parts:
            event = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        if fail:
            await response.write(b'data: {"error": {"message": "Generation failed: out of memory"}}\n\n')
        else:
            event = {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps(event)}\n\ndata: [DONE]\n\n".encode())
        return response

    return chat


@pytest.mark.parametrize(("finish", "truncated"), [("stop", False), ("length", True)])
async def test_compose_defuses_stores_and_reports_the_finish(
    db: Database, scripted: StartServer, finish: str, truncated: bool
) -> None:
    bodies: list[dict] = []
    parts = ["\n  @every", "one, look", " at <@&42>", " @here\n\n"]
    url = await scripted({("POST", "/v1/chat/completions"): scripted_chat(parts, finish, bodies)})
    async with EngineClient(url) as client:
        service = PoemService(db, client)
        poem = await service.create(request("tides", form="limerick"))
        events = await compose_all(service, poem)
    expected = "@\u200beveryone, look at <\u200b@&42> @\u200bhere"
    assert events[0] == Queued(3)
    done = events[-1]
    assert isinstance(done, PoemDone) and done.poem.text == expected and done.truncated is truncated
    assert done.check is not None and done.check.form == "limerick" and done.poem.drafts == 1
    shown = [e.text for e in events[1:-1]]
    assert shown == ["@every", "@\u200beveryone, look", "@\u200beveryone, look at <\u200b@&42>", expected]
    assert (await service.get(poem.id)).text == expected
    (body,) = bodies
    assert body["user"] == str(GUILD) and body["stream"] is True
    assert body["max_tokens"] == FORMS["en:limerick"].max_tokens
    assert "tides" in body["messages"][1]["content"]


async def test_an_engine_failure_mid_poem_leaves_the_stored_poem_unchanged(db: Database, scripted: StartServer) -> None:
    url = await scripted({("POST", "/v1/chat/completions"): scripted_chat(["half a ", "poem"], None, [], fail=True)})
    async with EngineClient(url) as client:
        service = PoemService(db, client)
        poem = await finished_poem(db, service, text="the first take")
        shown = []
        with pytest.raises(EngineError):
            async for event in service.compose(poem):
                shown.append(event)
    assert [e.text for e in shown if isinstance(e, TextDelta)] == ["half a", "half a poem"]
    assert (await service.get(poem.id)).text == "the first take"


class TimedOutEngine:
    """Streams `parts`, then ends the way the client ends a generation that ran out of ENGINE_TIMEOUT."""

    def __init__(self, *answers: tuple[list[str], str]) -> None:
        self.answers = list(answers)
        self.requests: list[list[dict[str, str]]] = []

    async def stream(self, messages: list[dict[str, str]], **_: object) -> AsyncIterator[TextDelta | Finished]:
        self.requests.append(messages)
        parts, finish = self.answers.pop(0)
        for part in parts:
            yield TextDelta(part)
        yield Finished(finish)


async def test_a_poem_cut_by_the_time_limit_keeps_its_whole_lines_and_goes_on(db: Database) -> None:
    engine = TimedOutEngine(
        (["The lantern glows\n", "on snow that hush", "es the hill\n", "and a fox ", "stops to"], "timeout"),
        (["watch the light.\n", "Morning comes."], "stop"),
    )
    service = PoemService(db, engine)  # type: ignore[arg-type]
    poem = await service.create(request("a lantern in the snow"))
    done = (await compose_all(service, poem))[-1]
    assert (done.poem.text, done.truncated, done.cut_short) == (
        "The lantern glows\non snow that hushes the hill",
        False,
        True,
    )

    events = [event async for event in service.compose(done.poem, continuing=True)]
    whole = "The lantern glows\non snow that hushes the hill\nwatch the light.\nMorning comes."
    assert [e.text for e in events if isinstance(e, TextDelta)][-1] == whole
    assert (events[-1].poem.text, events[-1].truncated, events[-1].cut_short) == (whole, False, False)
    asked = engine.requests[1]
    assert asked[-2] == {"role": "assistant", "content": "The lantern glows\non snow that hushes the hill"}
    assert "Continue it from exactly where it stops" in asked[-1]["content"]
    assert (await service.get(poem.id)).text == whole


# --- regenerate, another take, save, remove -----------------------------------------------------------


async def test_only_the_author_or_a_moderator_may_regenerate_an_unsaved_poem(
    db: Database, service: PoemService
) -> None:
    poem = await finished_poem(db, service)
    await service.check_can_regenerate(poem, AUTHOR, is_moderator=False)
    await service.check_can_regenerate(poem, MOD, is_moderator=True)
    with pytest.raises(NotAllowed, match="Only the person who asked"):
        await service.check_can_regenerate(poem, OTHER, is_moderator=False)
    saved, _ = await service.save(poem.id, GUILD, AUTHOR)
    for user, is_moderator in ((AUTHOR, False), (MOD, True)):
        with pytest.raises(NotAllowed, match="anthology"):
            await service.check_can_regenerate(saved, user, is_moderator)


async def test_another_take_is_a_new_poem_from_the_same_request(db: Database, service: PoemService) -> None:
    original = await finished_poem(db, service, topic="owls", form="tanka", mood="eerie", language="Welsh")
    take = await service.another_take(original.id, requester_id=OTHER, channel_id=999)
    assert take.id != original.id
    assert (take.topic, take.form, take.mood, take.language) == ("owls", "tanka", "eerie", "Welsh")
    assert (take.guild_id, take.channel_id, take.author_id, take.text) == (GUILD, 999, OTHER, "")
    assert await service.get(original.id) == original
    with pytest.raises(NotFound):
        await service.another_take(12345, OTHER, CHANNEL)


async def test_save_rules(db: Database, service: PoemService) -> None:
    unfinished = await service.create(request())
    with pytest.raises(NotAllowed, match="not finished"):
        await service.save(unfinished.id, GUILD, AUTHOR)
    poem = await finished_poem(db, service)
    with pytest.raises(NotFound):
        await service.save(poem.id, GUILD + 1, AUTHOR)  # another server's poem
    with pytest.raises(NotFound):
        await service.save(12345, GUILD, AUTHOR)
    saved, newly = await service.save(poem.id, GUILD, OTHER)
    assert newly and saved.saved and saved.saved_by == OTHER
    again, newly = await service.save(poem.id, GUILD, AUTHOR)
    assert not newly and again.saved_by == OTHER and again.saved_at == saved.saved_at
    assert await service.saved_poem(GUILD, poem.id) == again
    with pytest.raises(NotFound):
        await service.saved_poem(GUILD + 1, poem.id)
    with pytest.raises(NotFound):
        await service.saved_poem(GUILD, unfinished.id)


async def audit_actions(db: Database) -> list[tuple[str, dict]]:
    async with db.read() as conn:
        return [(e.action, e.detail) for e in await guilds.recent_audit(conn, GUILD)]


async def test_remove_permissions_and_audit(db: Database, service: PoemService) -> None:
    by_saver, by_author, by_mod = [await finished_poem(db, service, topic=t) for t in ("one", "two", "three")]
    for poem in (by_saver, by_author, by_mod):
        await service.save(poem.id, GUILD, OTHER)
    with pytest.raises(NotAllowed, match="Only a moderator"):
        await service.remove(by_saver.id, GUILD, user_id=999, is_moderator=False)
    with pytest.raises(NotFound):
        await service.remove(by_saver.id, GUILD + 1, user_id=MOD, is_moderator=True)
    await service.remove(by_saver.id, GUILD, user_id=OTHER, is_moderator=False)  # whoever saved it
    await service.remove(by_author.id, GUILD, user_id=AUTHOR, is_moderator=False)  # whoever asked for it
    assert await audit_actions(db) == []  # people removing their own poems are not audited
    removed = await service.remove(by_mod.id, GUILD, user_id=MOD, is_moderator=True)
    assert removed.id == by_mod.id
    assert await audit_actions(db) == [("anthology.remove", {"poem_id": by_mod.id, "topic": "three"})]
    for poem in (by_saver, by_author, by_mod):
        assert not (await service.get(poem.id)).saved
    with pytest.raises(NotFound, match="not in this server's anthology"):
        await service.remove(by_mod.id, GUILD, user_id=MOD, is_moderator=True)  # already removed


class TickingClock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        self.now += 1.0
        return self.now


async def test_anthology_pages(db: Database, service: PoemService, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = await service.anthology(GUILD)
    assert (empty.poems, empty.page, empty.pages, empty.total) == ([], 1, 1, 0)
    monkeypatch.setattr(repo, "time", TickingClock())  # every poem is saved a second after the one before
    saved_ids = []
    for i in range(2 * PAGE_SIZE + 3):
        poem = await finished_poem(db, service, topic=f"poem {i}")
        await service.save(poem.id, GUILD, AUTHOR)
        saved_ids.append(poem.id)
    await finished_poem(db, service, topic="never saved")
    newest_first = saved_ids[::-1]
    pages = [await service.anthology(GUILD, page) for page in (1, 2, 3)]
    assert [len(p.poems) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 3]
    assert all((p.pages, p.total) == (3, 2 * PAGE_SIZE + 3) for p in pages)
    assert [p.id for page in pages for p in page.poems] == newest_first
    assert (await service.anthology(GUILD, 99)).page == 3  # past the end: the last page
    assert (await service.anthology(GUILD, 0)).page == 1
    assert (await service.anthology(GUILD + 1)).total == 0


def test_forms_have_sensible_budgets() -> None:
    assert f"en:{bot.poems.DEFAULT_FORM}" in FORMS
    assert all(0 < form.max_tokens <= 512 and form.rules for form in FORMS.values())
