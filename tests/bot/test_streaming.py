"""bot.streaming.StreamRenderer with an in-memory sink and a fake clock (and once with the real engine)."""

from __future__ import annotations

import itertools
import math
import random

from bot.engine_client import EngineClient, Queued, Sampling, TextDelta
from bot.streaming import STATUS_ROOM, WAITING, WRITING, StreamRenderer, interrupted
from bot.text import MESSAGE_LIMIT
from tests.support.engine_proc import EngineProcess


class Sink:
    """Records what a Discord channel would show; refuses anything Discord would refuse."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.deleted: set[int] = set()
        self.calls: list[tuple[str, int, bool]] = []  # (send, edit or delete, handle, final)

    async def send(self, content: str, *, final: bool = False) -> int:
        self._check(content)
        self.messages.append(content)
        self.calls.append(("send", len(self.messages) - 1, final))
        return len(self.messages) - 1

    async def edit(self, handle: int, content: str, *, final: bool = False) -> None:
        self._check(content)
        assert handle not in self.deleted, "an edit of a deleted message"
        # Only the final write may repeat the text (it carries the buttons); otherwise it wastes a rate-limited call.
        assert final or self.messages[handle] != content, "an edit that changes nothing"
        self.messages[handle] = content
        self.calls.append(("edit", handle, final))

    async def delete(self, handle: int) -> None:
        assert handle not in self.deleted and handle != 0, "the first page is the response itself"
        self.deleted.add(handle)
        self.calls.append(("delete", handle, False))

    @property
    def shown(self) -> list[str]:
        """What the channel shows: the messages that were not deleted."""
        return [m for i, m in enumerate(self.messages) if i not in self.deleted]

    @property
    def finals(self) -> list[tuple[str, int, bool]]:
        return [call for call in self.calls if call[2]]

    @staticmethod
    def _check(content: str) -> None:
        assert content.strip(), "Discord refuses empty messages"
        assert len(content) <= MESSAGE_LIMIT, f"{len(content)} characters is over Discord's limit"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def renderer(**kwargs: object) -> tuple[StreamRenderer, Sink, Clock]:
    sink, clock = Sink(), Clock()
    return StreamRenderer(sink, clock=clock, **kwargs), sink, clock  # type: ignore[arg-type]


async def test_edits_at_most_once_per_interval() -> None:
    r, sink, clock = renderer(interval=1.0)
    text = ""
    for step in range(50):  # a token every 0.1 s for 5 s
        text += f"word{step} "
        await r.update(text)
        clock.now += 0.1
    times = len(sink.calls)
    assert sink.calls[0] == ("send", 0, False)
    assert 5 <= times <= 6  # 5 s of updates: the first at once, then once per second
    assert WRITING in sink.messages[0]


async def test_render_times_are_spaced_by_the_interval() -> None:
    r, sink, clock = renderer(interval=2.0)
    rendered_at = []
    for step in range(100):
        before = len(sink.calls)
        await r.update("x" * (step + 1))
        if len(sink.calls) > before:
            rendered_at.append(clock.now)
        clock.now += 0.13
    gaps = [b - a for a, b in itertools.pairwise(rendered_at)]
    assert gaps and min(gaps) >= 2.0


async def test_finish_always_renders_and_drops_the_writing_status() -> None:
    r, sink, _ = renderer(interval=10.0)
    await r.update("The moon")
    await r.update("The moon rises")  # within the interval: not shown yet
    assert sink.messages == [f"The moon\n\n{WRITING}"]
    handles = await r.finish("The moon rises.")
    assert sink.messages == ["The moon rises."]
    assert handles == [0]
    assert sink.calls == [("send", 0, False), ("edit", 0, True)]


async def test_the_final_flag_marks_only_the_last_write_of_the_last_page() -> None:
    r, sink, clock = renderer()
    await r.queued(4)
    for size in (500, 2500, 4000):
        clock.now += 1.0
        await r.update("word " * (size // 5))
    assert sink.finals == []  # never while writing
    await r.finish()  # same text: the last page is written again, to carry the buttons
    assert sink.finals == [("edit", 2, True)]
    r2, sink2, _ = renderer()
    await r2.update("short")
    await r2.finish("long " * 500)  # the final text needs a new page: it is sent with the flag
    assert sink2.finals == [("send", 1, True)]
    assert [c for c in sink2.calls if not c[2]] == [("send", 0, False), ("edit", 0, False)]


async def test_a_text_that_shrinks_leaves_no_stray_page_behind() -> None:
    """A small model loops ("life, life, life, …") past a page; cleaning collapses the loop at the end.
    The page the text no longer reaches is removed, not left showing its last word."""
    r, sink, clock = renderer()
    verse = "Of all the rivers in the world, this one remembers me.\n"
    await r.update(verse * 30)
    clock.now += 1.0
    await r.update(verse * 30 + "life, " * 60)
    assert len(sink.shown) == 2 and WRITING in sink.shown[1]
    handles = await r.finish(verse * 30 + "life, life, life,", note="— for you")
    assert handles == [0] and sink.shown == [verse * 30 + "life, life, life,\n\n— for you"]
    assert sink.finals == [("edit", 0, True)] and ("delete", 1, False) in sink.calls


async def test_finish_with_a_note() -> None:
    r, sink, _ = renderer()
    await r.update("a poem")
    await r.finish(note="⚠️ *cut short: it reached the length limit.*")
    assert sink.messages == ["a poem\n\n⚠️ *cut short: it reached the length limit.*"]


async def test_finish_before_any_text_still_shows_something() -> None:
    r, sink, _ = renderer()
    await r.finish("")
    assert sink.messages == ["…"]


async def test_header_comes_first() -> None:
    r, sink, _ = renderer(header="**A haiku about rain**\n")
    await r.finish("drops on the tin roof")
    assert sink.messages == ["**A haiku about rain**\ndrops on the tin roof"]


async def test_queued_shows_the_place_in_line_until_text_arrives() -> None:
    r, sink, clock = renderer()
    await r.queued(1)  # next in line: nothing to say yet
    assert sink.messages == []
    await r.queued(3)
    assert sink.messages == ["⏳ *the storyteller is busy: you are #3 in line…*"]
    await r.queued(2)
    assert sink.messages == ["⏳ *the storyteller is busy: you are #2 in line…*"]
    clock.now += 1.0
    await r.update("Once")
    await r.queued(5)  # too late: the text has started
    assert sink.messages == [f"Once\n\n{WRITING}"]


async def test_a_wait_reported_as_it_happens_shows_its_estimate() -> None:
    r, sink, _ = renderer()
    await r.queued(1, 4.0)  # reported while waiting: even "next" is worth saying, with how long
    assert sink.messages == ["⏳ *the storyteller is busy: you are next in line, about 4 s…*"]
    await r.queued(3, 150.0)
    assert sink.messages == ["⏳ *the storyteller is busy: you are #3 in line, about 2 min…*"]


async def test_waiting_status_before_the_first_words() -> None:
    r, _, _ = renderer(header="h")
    assert r.pages() == [f"h\n\n{WAITING}"]


async def test_long_text_pages_with_the_status_on_the_last_page_only() -> None:
    r, sink, clock = renderer()
    words = " ".join(f"word{i}" for i in range(1200))  # about 9,500 characters
    for end in range(0, len(words) + 500, 500):
        await r.update(words[:end])
        clock.now += 1.0
    assert len(sink.messages) == math.ceil(len(words) / (MESSAGE_LIMIT - STATUS_ROOM)) == 6
    assert all(WRITING not in page for page in sink.messages[:-1])
    assert sink.messages[-1].endswith(WRITING)
    assert all(len(page) <= MESSAGE_LIMIT - STATUS_ROOM for page in sink.messages[:-1])
    await r.finish(words)
    assert all(WRITING not in page for page in sink.messages)
    assert " ".join(sink.messages).split() == words.split()  # every word, once, in order


async def test_page_breaks_do_not_move_when_the_status_changes() -> None:
    r, sink, _ = renderer()
    text = "".join(random.Random(7).choice("abc de\n") for _ in range(6000))
    await r.update(text)
    writing = list(sink.messages)
    await r.finish(text, note="📝 " + "a very long note " * 30)  # longer than the room kept for it
    finished = list(sink.messages)
    assert len(writing) == len(finished)
    assert finished[:-1] == writing[:-1]  # the earlier pages did not even need an edit
    assert writing[-1].removesuffix(f"\n\n{WRITING}") == finished[-1].split("\n\n📝")[0]
    assert all(len(page) <= MESSAGE_LIMIT for page in finished)


async def test_text_that_shrinks_keeps_the_earlier_pages_edited_not_resent() -> None:
    r, sink, clock = renderer()
    await r.update("a" * 3000)
    clock.now += 5
    await r.update("b" * 3500)
    assert [call for call in sink.calls if call[0] == "send"] == [("send", 0, False), ("send", 1, False)]


async def test_mentions_are_defused_in_everything_shown() -> None:
    r, sink, clock = renderer(header="<@&555> asked:\n")
    await r.update("@everyone wake up")
    clock.now += 2
    await r.finish("@everyone wake up, @here too, <@&555>!")
    shown = "\n".join(sink.messages)
    assert "@everyone" not in shown and "@here" not in shown and "<@&555>" not in shown
    assert "wake up" in shown


async def test_nothing_ever_exceeds_the_limit() -> None:
    rng = random.Random(11)
    alphabet = ["a", "b", " ", " ", "\n", "\n\n", ". ", "🇫🇷", "👨\u200d👩\u200d👧", "e\u0301", "猫", "@everyone"]
    for _ in range(40):
        r, sink, clock = renderer(header=rng.choice(["", "**Title**\n", "h" * 300]))
        text = ""
        for _ in range(rng.randint(1, 30)):
            text += "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 600)))
            await r.update(text)
            clock.now += rng.choice([0.2, 1.0, 3.0])
        await r.finish(note=rng.choice(["", "⚠️ cut short", "n" * 500]))
        assert all(0 < len(m) <= MESSAGE_LIMIT for m in sink.messages)  # the sink checks each call too


async def test_streams_the_real_engine(engine: EngineProcess) -> None:
    r, sink, clock = renderer(header="**The sea**\n")
    text = ""
    async with EngineClient(engine.url) as client:
        messages = [{"role": "user", "content": "Write two lines about the sea."}]
        async for event in client.stream(messages, tenant="1", sampling=Sampling(max_tokens=12)):
            if isinstance(event, Queued):
                await r.queued(event.position)
            elif isinstance(event, TextDelta):
                text += event.text
                await r.update(text)
                clock.now += 0.3
    await r.finish(text.strip())
    assert text.strip()
    assert sink.messages == r.pages()
    assert sink.messages[0].startswith("**The sea**\n")
    assert WRITING not in sink.messages[-1]
    assert len(sink.calls) <= 2 + 12 * 0.3  # one send, an edit per interval, one final edit
    assert sink.finals == [("edit", len(sink.messages) - 1, True)]


NOTE = "⚠️ *Interrupted. Nothing was saved.*"


async def test_interrupted_replaces_the_writing_status_of_a_cut_off_stream() -> None:
    r, sink, clock = renderer(header="📖 **Header**\n\n")
    await r.update("")
    assert interrupted(sink.messages[0], NOTE) == f"📖 **Header**\n\n{NOTE}"
    clock.now += 5
    await r.update("First line.\n\nSecond paragraph, cut")
    assert interrupted(sink.messages[0], NOTE) == f"📖 **Header**\n\nFirst line.\n\nSecond paragraph, cut\n\n{NOTE}"
    r.text = ""
    await r.queued(3)
    assert interrupted(sink.messages[0], NOTE) == f"📖 **Header**\n\n{NOTE}"


async def test_interrupted_leaves_finished_messages_and_earlier_pages_alone() -> None:
    r, sink, _ = renderer(limit=400)
    await r.update("word " * 150)
    assert len(sink.messages) > 1 and interrupted(sink.messages[-1], NOTE) is not None
    assert all(interrupted(m, NOTE) is None for m in sink.messages[:-1])
    await r.finish(note="— for someone")
    assert all(interrupted(m, NOTE) is None for m in sink.messages)
    assert interrupted(WAITING, NOTE) == NOTE


class SlowSink(Sink):
    """Each write takes `delay` seconds of the clock, as a rate-limited Discord makes the client wait."""

    def __init__(self, clock: Clock, delay: float) -> None:
        super().__init__()
        self.clock, self.delay = clock, delay

    async def send(self, content: str, *, final: bool = False) -> int:
        self.clock.now += self.delay
        return await super().send(content, final=final)

    async def edit(self, handle: int, content: str, *, final: bool = False) -> None:
        self.clock.now += self.delay
        await super().edit(handle, content, final=final)


async def test_a_rate_limited_stream_falls_back_to_fewer_edits_and_loses_nothing() -> None:
    clock = Clock()
    slow = SlowSink(clock, delay=1.5)  # every write is held 1.5 s (429 with Retry-After)
    r = StreamRenderer(slow, clock=clock, interval=1.0, max_interval=8.0)
    text = ""
    for step in range(300):  # a token every 0.1 s for 30 s of writing
        text += f"w{step} "
        await r.update(text)
        clock.now += 0.1
    await r.finish(note="done")
    assert r.interval == 8.0, "the interval grew to its ceiling while writes were slow"
    edits = [call for call in slow.calls if call[0] == "edit"]
    assert len(edits) < 12, f"{len(edits)} edits: the stream kept editing at full rate"
    assert slow.shown == [f"{text.strip()}\n\ndone"], "the whole text arrives in the end"


async def test_a_fast_sink_keeps_the_interval() -> None:
    r, _, clock = renderer(interval=1.0)
    for step in range(30):
        await r.update("x" * (step + 1))
        clock.now += 0.1
    assert r.interval == 1.0
