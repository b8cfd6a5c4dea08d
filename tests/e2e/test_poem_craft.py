"""/poem with a checked form end to end: N drafts from the real engine, the best shown, an honest footer,
the per-line check behind a persistent button, and a Chinese quatrain. Through the loopback Discord, the
real bot, the real engine and model, and a real SQLite file.

The model's words are never asserted: what is checked is that the text shown is the stored best draft,
that the footer is the checker's verdict on that very text, and that no stored draft beat it.
"""

from __future__ import annotations

from bot.craft import check, clean_draft, get_form
from bot.streaming import DRAFTING, WRITING
from bot.text import collapse_word_runs, defuse_mentions, echo
from fakediscord import FakeDiscord, Message
from tests.e2e.conftest import BotHandle, World, no_pings
from tests.e2e.test_poems import finished_poem, first_words, poem_id


async def drafted_poem(tw: BotHandle, world: World, **options: object) -> Message:
    ix = await tw.fake.invoke(world.alice, world.channel, "poem", **options)
    await ix.wait_acknowledged(timeout=3)
    return await finished_poem(tw, (await first_words(tw, ix)).id)


async def assert_best_draft_shown(tw: BotHandle, message: Message, form_name: str, language: str) -> None:
    assert tw.bot is not None
    poem = await tw.bot.poems.get(poem_id(message))
    form = get_form(form_name, language)
    shown = check(form, poem.text, poem.word)
    drafts = await tw.bot.poems.drafts(poem.id)
    assert poem.text, "the model wrote something"
    assert f"\n\n{echo(poem.text)}\n\n" in message.content, "the message shows the stored poem"
    assert poem.drafts == len(drafts) == tw.bot.poems.drafts_for(poem.guild_id) == 4, "all four drafts are kept"
    verdict = next(line for line in message.content.splitlines() if line.startswith("📏 "))
    said = verdict.removeprefix("📏 ").removesuffix(" · best of 4 drafts")
    assert verdict.endswith(" · best of 4 drafts") and said, verdict
    assert echo(shown.summary) == said or echo(shown.summary).startswith(said.removesuffix("…")), (
        "the footer is the checker's verdict on the text shown (cut to fit, the rest behind Show the check)"
    )
    assert poem.form_check == shown.to_json(), "the stored check is the check of the text shown"
    rechecked = [check(form, d.text, poem.word) for d in drafts]
    assert [(d.score, d.passed) for d in drafts] == [(c.score, c.passed) for c in rechecked]
    chosen = [d for d in drafts if d.chosen]
    assert len(chosen) == 1
    best = max(rechecked, key=lambda c: (c.passed, c.score))
    assert (chosen[0].passed, chosen[0].score) == (best.passed, best.score), "no draft beat the one shown"
    # What is shown is the chosen draft cleaned (a preface or numbering dropped), never another draft.
    assert defuse_mentions(collapse_word_runs("\n".join(clean_draft(chosen[0].text)))) == poem.text


async def test_haiku_best_of_four_with_its_check(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    message = await drafted_poem(taleweaver, world, topic="autumn rain", form="haiku")
    await assert_best_draft_shown(taleweaver, message, "haiku", "en")
    assert message.content.startswith("**Haiku** · *autumn rain*")
    assert any(DRAFTING in v.content for v in message.history), "a progress line showed while drafting"
    assert not any(WRITING in v.content for v in message.history), "no single draft was streamed"
    assert DRAFTING not in message.content
    number = poem_id(message)
    assert message.custom_ids[:4] == [f"poem:{a}:{number}" for a in ("regen", "another", "save", "check")]
    assert [c.rsplit(":", 1)[0] for c in message.custom_ids[4:]] == ["delete:poem", "rate:up", "rate:down"]

    await taleweaver.restart()  # the button outlives the bot
    shown = await fake.click(world.bob, message, custom_id=f"poem:check:{number}")
    await shown.wait_acknowledged()
    table = shown.response_data["content"]
    assert shown.ephemeral and table.startswith("```text\n") and table.endswith("```")
    assert taleweaver.bot is not None
    stored = await taleweaver.bot.poems.get(number)
    expected = check(get_form("haiku"), stored.text).table()
    assert [row.split()[:3] for row in table.splitlines()[1:-1] if row.strip()] == [
        row.split()[:3] for row in expected.splitlines() if row.strip()
    ], "the button shows the per-line table of the stored check"
    assert not no_pings(fake.messages(world.channel))


async def test_chinese_quatrain_end_to_end(fake: FakeDiscord, world: World, taleweaver: BotHandle) -> None:
    choices = await fake.autocomplete(world.alice, world.channel, "poem", focused="form", topic="月", language="中文")
    assert {c["value"] for c in choices} == {"wuyan jueju", "qiyan jueju", "acrostic", "free verse"}
    assert any("五言绝句" in c["name"] for c in choices), "the form list follows the language"
    english = await fake.autocomplete(world.alice, world.channel, "poem", focused="form", topic="moon")
    assert "sonnet" in {c["value"] for c in english} and "wuyan jueju" not in {c["value"] for c in english}

    message = await drafted_poem(taleweaver, world, topic="思乡的月亮", form="wuyan jueju", language="中文")
    assert message.content.startswith("**五言绝句** · *思乡的月亮*")
    await assert_best_draft_shown(taleweaver, message, "wuyan jueju", "zh")
    assert taleweaver.bot is not None
    poem = await taleweaver.bot.poems.get(poem_id(message))
    assert (poem.form, poem.language) == ("wuyan jueju", "zh")

    wrong = await fake.invoke(world.alice, world.channel, "poem", topic="月", form="sonnet", language="中文")
    await wrong.wait_acknowledged()
    assert wrong.ephemeral and "no form called 'sonnet' in Chinese" in wrong.response_data["content"]
