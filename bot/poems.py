"""Poems on demand: the rules, the prompt, and the anthology. Knows nothing of Discord."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace

from bot.config import ConfigSnapshot, defaults
from bot.craft import ENGLISH, LANGUAGES, Form, FormCheck, UnknownForm, best_draft, check, get_form, language_code
from bot.craft.forms import ACROSTIC_WORD_LIMIT, acrostic_letters, poem_messages
from bot.drafts import Drafting, Drafts, write_drafts
from bot.errors import NotAllowed, NotFound
from bot.llm.client import EngineBusy, EngineClient, Finished, Queued, Sampling, TextDelta
from bot.llm.types import ChatMessage, message
from bot.safety import objection
from bot.safety.gate import SafetyContext, SafetyGate, Verdict, rating_rules
from bot.text import InputProblem, clean_input, collapse_word_runs, cut_at_boundary, defuse_mentions
from storage import guilds
from storage import poems as repo
from storage.db import Database
from storage.poems import Poem, StoredDraft

log = logging.getLogger(__name__)

TOPIC_LIMIT = 200
MOOD_LIMIT = 60
LANGUAGE_LIMIT = 40
WORD_LIMIT = 40  # characters as typed; the letters it spells are limited by the form (one line each)
PAGE_SIZE = 10
DEFAULT_FORM = "free verse"
STREAMED_FORMS = frozenset({"free verse"})  # checked on line count only: one draft, streamed as it is written

UNCHECKED_ASK = ' Write it in this language: "{language}".'
CONTINUE_ASK = (
    "Your poem above stops short. Continue it from exactly where it stops: answer with the lines that "
    "come next only, without repeating any line above."
)


@dataclass(frozen=True)
class PoemRequest:
    guild_id: int
    channel_id: int
    author_id: int
    topic: str
    form: str = DEFAULT_FORM
    mood: str = ""
    language: str = ""
    word: str = ""  # acrostics: what the line initials spell


@dataclass(frozen=True)
class PoemDone:
    poem: Poem
    truncated: bool  # the engine's token limit ended it
    cut_short: bool = False  # ENGINE_TIMEOUT (or the drafts' time budget) ended it: kept up to its last line
    safety: str = ""  # what the safety gate did (blocked words blacked out, or the poem withheld)
    withheld: bool = False

    @property
    def check(self) -> FormCheck | None:
        return FormCheck.from_json(self.poem.form_check) if self.poem.form_check else None


PoemEvent = Queued | TextDelta | Drafting | PoemDone


@dataclass(frozen=True)
class AnthologyPage:
    poems: list[Poem]
    page: int
    pages: int
    total: int


class PoemService:
    def __init__(
        self,
        db: Database,
        engine: EngineClient,
        gate: SafetyGate | None = None,
        *,
        drafts: int = 1,
        draft_seconds: float = 90.0,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`drafts`: how many drafts of a checked form to write at once (POEM_DRAFTS); `draft_seconds`:
        the generation time they may take (POEM_DRAFT_SECONDS)."""
        self._db = db
        self._engine = engine
        self._gate = gate
        self._drafts = drafts
        self._draft_seconds = draft_seconds
        self._presence = presence_penalty
        self._frequency = frequency_penalty
        self._clock = clock

    async def warm_up(self) -> None:
        """Load the pronouncing dictionary now (seconds of CPU), so the first poem's check is instant."""
        await asyncio.to_thread(check, get_form("haiku"), "an early warm-up\nof the pronouncing dictionary\n中文")

    def drafts_for(self, guild_id: int) -> int:
        """How many drafts a server's poems are chosen from. The one place to ask (a per-server setting
        will answer here)."""
        return self._drafts

    async def create(self, request: PoemRequest) -> Poem:
        """Validate a request and record it as a poem to write. Raises InputProblem with what to fix."""
        topic = clean_input(request.topic, field="topic", max_length=TOPIC_LIMIT, multiline=False)
        mood = clean_input(request.mood, field="mood", max_length=MOOD_LIMIT, min_length=0, multiline=False)
        language = clean_input(
            request.language, field="language", max_length=LANGUAGE_LIMIT, min_length=0, multiline=False
        )
        code = language_code(language)
        form = self._form_named(request.form, code or ENGLISH)
        word = self._acrostic_word(form, request.word, code or ENGLISH)
        async with self._db.transaction() as conn:
            return await repo.create(
                conn,
                guild_id=request.guild_id,
                channel_id=request.channel_id,
                author_id=request.author_id,
                topic=topic,
                form=form.name,
                mood=mood,
                language=code or language,  # a checked language by its code; any other as written
                word=word,
            )

    @staticmethod
    def _form_named(name: str, language: str) -> Form:
        try:
            return get_form(name.strip() or DEFAULT_FORM, language)
        except UnknownForm as exc:
            raise NotFound(str(exc)) from None

    @staticmethod
    def _acrostic_word(form: Form, word: str, language: str) -> str:
        word = clean_input(word, field="word", max_length=WORD_LIMIT, min_length=0, multiline=False)
        if not form.acrostic:
            if word:
                raise InputProblem("The word option is for acrostic poems only: pick form acrostic, or leave it out.")
            return ""
        letters = acrostic_letters(word, language)
        if not letters:
            raise InputProblem("An acrostic needs a word whose letters start its lines: give one in the word option.")
        if len(letters) > ACROSTIC_WORD_LIMIT:
            raise InputProblem(
                f"The word has {len(letters)} letters; an acrostic takes at most {ACROSTIC_WORD_LIMIT} (one line each)."
            )
        return defuse_mentions(word)

    def form_of(self, poem: Poem) -> tuple[Form, bool]:
        """The poem's form, and whether it is checked (English and Chinese are; another language uses the
        English form's rules, unchecked)."""
        code = language_code(poem.language)
        try:
            return get_form(poem.form, code or ENGLISH), code is not None
        except UnknownForm:  # a row from before the forms moved to bot.craft
            return get_form(DEFAULT_FORM, code or ENGLISH), False

    async def another_take(self, poem_id: int, requester_id: int, channel_id: int) -> Poem:
        """A new poem from the same request; the first one stays as it is."""
        original = await self.get(poem_id)
        async with self._db.transaction() as conn:
            return await repo.create(
                conn,
                guild_id=original.guild_id,
                channel_id=channel_id,
                author_id=requester_id,
                topic=original.topic,
                form=original.form,
                mood=original.mood,
                language=original.language,
                word=original.word,
            )

    async def check_can_regenerate(
        self, poem: Poem, user_id: int, is_moderator: bool, what: str = "regenerate"
    ) -> None:
        if poem.author_id != user_id and not is_moderator:
            raise NotAllowed(f"Only the person who asked for this poem can {what} it. Try **Another take**.")
        if poem.saved:
            raise NotAllowed("This poem is in the anthology, so it stays as it is. Try **Another take**.")

    async def compose(
        self, poem: Poem, *, continuing: bool = False, settings: ConfigSnapshot | None = None
    ) -> AsyncGenerator[PoemEvent, None]:
        """Write the poem (or, `continuing`, the rest of one that was cut short), under the settings of
        where it is written (length and temperature caps, rating, blocked words).

        A checked form (not free verse) with more than one draft: N drafts in one request, progress as
        `Drafting`, then the best by its form check (or, when the engine's line has no room for N, one
        draft after all). Otherwise one draft, streamed as `TextDelta`s (the whole text so far). Both end
        with the stored poem. The text is stored only when the engine finished or ran out of time (then up
        to its last whole line); a failure leaves the poem as it was. What is stored and shown has passed
        the safety gate (blocked words blacked out, or withheld).
        """
        settings = settings or defaults()
        form, checked = self.form_of(poem)
        n = self.drafts_for(poem.guild_id)
        if continuing or not checked or n < 2 or form.name in STREAMED_FORMS:
            async for event in self._stream_one(poem, settings, continuing=continuing):
                yield event
            return
        async for event in self._best_of(poem, form, n, settings):
            yield event

    async def _stream_one(
        self, poem: Poem, settings: ConfigSnapshot, *, continuing: bool
    ) -> AsyncGenerator[PoemEvent, None]:
        before = poem.text if continuing else ""
        messages = self.messages(poem, settings)
        if before:
            messages += [message("assistant", before), message("user", CONTINUE_ASK)]
        text, finish, objected = "", "stop", None
        sampling = self.sampling(poem, settings)
        events = self._engine.stream(messages, tenant=str(poem.guild_id), sampling=sampling)
        async with aclosing(events):  # leaving early (withheld) closes the engine request
            async for event in events:
                if isinstance(event, TextDelta):
                    text += event.text
                    shown = _join(before, text.strip())
                    shown = defuse_mentions(self._gate.preview(settings, shown) if self._gate else shown)
                    if objected := await objection(
                        self._gate.output_checks if self._gate else (), poem.guild_id, shown
                    ):
                        break  # never shown, not even while it streams
                    yield TextDelta(shown)
                elif isinstance(event, Finished):
                    finish = event.reason
                else:
                    yield event
        written = collapse_word_runs(text.strip())
        if finish == "timeout":
            written = cut_at_boundary(written)
        final = defuse_mentions(_join(before, written))
        if objected:  # an extra check (the server's AutoMod rules) refused it: nothing new is stored
            yield PoemDone(poem, truncated=False, safety=f"It broke {objected}.", withheld=True)
            return
        stored, verdict = await self._store(poem, final, settings, drafts=max(1, poem.drafts) if continuing else 1)
        yield _done(stored, verdict, truncated=finish == "length", cut_short=finish == "timeout")

    async def _best_of(
        self, poem: Poem, form: Form, n: int, settings: ConfigSnapshot
    ) -> AsyncGenerator[PoemEvent, None]:
        sampling = replace(self.sampling(poem, settings), n=n)
        result: Drafts | None = None
        drafting = write_drafts(
            self._engine,
            self.messages(poem, settings),
            tenant=str(poem.guild_id),
            sampling=sampling,
            seconds=self._draft_seconds,
            clock=self._clock,
        )
        wrote = False
        try:
            async for event in drafting:
                if isinstance(event, Drafts):
                    result = event
                else:
                    wrote = wrote or isinstance(event, Drafting)
                    yield event
        except EngineBusy:
            if wrote:
                raise
            # The engine's line had no room for n drafts (each takes a place in it; a burst of poems fills
            # it n times as fast). Nothing was written yet: one draft, streamed, beats a refusal.
            log.info("no room in the engine's line for %d drafts of poem %d; writing one", n, poem.id)
            async for event in self._stream_one(poem, settings, continuing=False):
                yield event
            return
        assert result is not None
        finished = result.finished()
        pool = finished or list(range(n))  # none finished in time: the furthest-along of the cut ones
        texts = [result.texts[i] if i in finished else cut_at_boundary(result.texts[i]) for i in pool]
        # Checking reads the pronouncing dictionary: seconds of CPU the gateway's heartbeat must not wait for.
        choice = await asyncio.to_thread(best_draft, texts, form, poem.word)
        chosen = pool[choice.best.index]
        final = defuse_mentions(collapse_word_runs(choice.best.poem))
        redact = self._redactor(settings)
        drafts = [
            StoredDraft(poem.id, pool[d.index], redact(d.raw), d.check.score, d.check.passed, d is choice.best)
            for d in choice.drafts
        ]
        stored, verdict = await self._store(poem, final, settings, drafts=n, all_drafts=drafts)
        reason = result.finish[chosen]
        yield _done(stored, verdict, truncated=reason == "length", cut_short=reason in ("timeout", "budget"))

    def _redactor(self, settings: ConfigSnapshot) -> Callable[[str], str]:
        """How the drafts not shown are kept: defused, blocked words blacked out."""
        gate = self._gate
        if gate is None:
            return defuse_mentions
        return lambda text: defuse_mentions(gate.matcher(settings).redact(text))

    async def _store(
        self,
        poem: Poem,
        text: str,
        settings: ConfigSnapshot,
        *,
        drafts: int,
        all_drafts: list[StoredDraft] | None = None,
    ) -> tuple[Poem, Verdict | None]:
        """Keep the text as the safety gate passed it, with its form check (computed on exactly what is
        stored and shown)."""
        verdict = await self._check_output(poem, settings, text)
        text = verdict.text if verdict else text
        form, checked = self.form_of(poem)
        form_check = (await asyncio.to_thread(check, form, text, poem.word)).to_json() if checked and text else None
        async with self._db.transaction() as conn:
            await repo.set_text(conn, poem.id, text, form_check=form_check, drafts=drafts if text else 0)
            if all_drafts is not None:
                await repo.set_drafts(conn, poem.id, all_drafts if text else [])
            stored = await repo.get(conn, poem.id)
        assert stored is not None
        return stored, verdict

    async def _check_output(self, poem: Poem, settings: ConfigSnapshot, text: str) -> Verdict | None:
        if self._gate is None or not text:
            return None
        context = SafetyContext(poem.guild_id, poem.channel_id, poem.author_id, "poems", settings)
        return await self._gate.check_output(context, text)

    async def drafts(self, poem_id: int) -> list[StoredDraft]:
        """The drafts the poem's text was chosen from (empty when it was written as one)."""
        async with self._db.read() as conn:
            return await repo.drafts(conn, poem_id)

    def messages(self, poem: Poem, settings: ConfigSnapshot | None = None) -> list[ChatMessage]:
        form, checked = self.form_of(poem)
        messages = poem_messages(form, poem.topic, poem.mood, poem.word)
        if not checked and poem.language:
            messages[-1]["content"] += UNCHECKED_ASK.format(language=poem.language)
        # The place's rating and style note; its language only when the poem did not name one.
        messages[0]["content"] += " " + rating_rules(settings or defaults(), language=not poem.language)
        return messages

    def sampling(self, poem: Poem, settings: ConfigSnapshot | None = None) -> Sampling:
        form, _ = self.form_of(poem)
        settings = settings or defaults()
        return Sampling(
            max_tokens=settings.tokens(form.max_tokens, use_default=False),
            temperature=settings.heat(0.8),
            top_p=0.95,
            presence_penalty=self._presence,
            frequency_penalty=self._frequency,
        )

    async def get(self, poem_id: int) -> Poem:
        async with self._db.read() as conn:
            poem = await repo.get(conn, poem_id)
        if poem is None:
            raise NotFound(f"Poem #{poem_id} does not exist (any more).")
        return poem

    async def save(self, poem_id: int, guild_id: int, user_id: int) -> tuple[Poem, bool]:
        """Put a finished poem in its server's anthology. Returns (poem, whether it was newly saved)."""
        async with self._db.transaction() as conn:
            poem = await repo.get(conn, poem_id)
            if poem is None or poem.guild_id != guild_id:
                raise NotFound(f"Poem #{poem_id} does not exist on this server.")
            if not poem.text:
                raise NotAllowed("This poem is not finished yet (or was never written), so it cannot be saved.")
            newly = await repo.save(conn, poem_id, user_id)
            poem = await repo.get(conn, poem_id)
        assert poem is not None
        return poem, newly

    async def remove(self, poem_id: int, guild_id: int, user_id: int, is_moderator: bool) -> Poem:
        async with self._db.transaction() as conn:
            poem = await repo.get(conn, poem_id)
            if poem is None or poem.guild_id != guild_id or not poem.saved:
                raise NotFound(f"Poem #{poem_id} is not in this server's anthology.")
            if not is_moderator and user_id not in (poem.saved_by, poem.author_id):
                raise NotAllowed("Only a moderator, or whoever saved this poem, can remove it from the anthology.")
            await repo.unsave(conn, poem_id)
            if is_moderator and user_id not in (poem.saved_by, poem.author_id):
                await guilds.audit(conn, guild_id, user_id, "anthology.remove", poem_id=poem_id, topic=poem.topic)
        return poem

    async def anthology(self, guild_id: int, page: int = 1) -> AnthologyPage:
        async with self._db.read() as conn:
            total = await repo.anthology_size(conn, guild_id)
            pages = max(1, math.ceil(total / PAGE_SIZE))
            page = min(max(1, page), pages)
            poems = await repo.anthology(conn, guild_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        return AnthologyPage(poems, page, pages, total)

    async def saved_poem(self, guild_id: int, poem_id: int) -> Poem:
        poem = await self.get(poem_id)
        if poem.guild_id != guild_id or not poem.saved:
            raise NotFound(f"Poem #{poem_id} is not in this server's anthology. `/anthology list` shows what is.")
        return poem


def _done(stored: Poem, verdict: Verdict | None, *, truncated: bool, cut_short: bool) -> PoemDone:
    withheld = bool(verdict and not verdict.allowed)
    return PoemDone(
        stored,
        truncated=truncated and not withheld,
        cut_short=cut_short and not withheld,
        safety=verdict.reason if verdict else "",
        withheld=withheld,
    )


def _join(before: str, more: str) -> str:
    """A poem's continuation starts on the line after what was kept."""
    return f"{before}\n{more}" if before and more else before or more


def form_title(poem: Poem) -> str:
    """How a poem's form is named to readers: "Haiku", "五言绝句"."""
    code = language_code(poem.language)
    try:
        form = get_form(poem.form, code or ENGLISH)
    except UnknownForm:
        return poem.form.title()
    return form.title.split(" (")[0] if form.language != ENGLISH else form.name.title()


def language_names() -> dict[str, str]:
    """The languages whose forms are checked, by code."""
    return dict(LANGUAGES)
