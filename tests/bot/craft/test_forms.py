"""bot.craft.forms: the forms of each language and what the model is asked for them."""

from __future__ import annotations

import pytest

from bot.craft import CHINESE, ENGLISH, FORMS, UnknownForm, forms_for, get_form, language_code, poem_messages


@pytest.mark.parametrize(
    ("text", "code"),
    [("", ENGLISH), (None, ENGLISH), ("English", ENGLISH), (" en-GB ", ENGLISH), ("中文", CHINESE),
     ("Chinese", CHINESE), ("zh-TW", CHINESE), ("繁體中文", CHINESE), ("Klingon", None), ("fr", None)],
)  # fmt: skip
def test_language_names(text: str | None, code: str | None) -> None:
    assert language_code(text) == code


def test_the_form_list_adapts_to_the_language() -> None:
    english = [f.name for f in forms_for(ENGLISH)]
    chinese = [f.name for f in forms_for(CHINESE)]
    assert english == [
        "haiku",
        "tanka",
        "limerick",
        "quatrain",
        "sonnet",
        "villanelle",
        "acrostic",
        "couplets",
        "ballad",
        "free verse",
    ]
    assert chinese == ["wuyan jueju", "qiyan jueju", "acrostic", "free verse"]
    assert {f.unit for f in forms_for(CHINESE)} == {"characters"}
    assert forms_for("fr") == []
    assert len(FORMS) == len(english) + len(chinese)


def test_forms_are_found_by_name_or_title_and_unknown_ones_say_what_exists() -> None:
    assert get_form("  Haiku ").name == "haiku"
    assert get_form("七言绝句", CHINESE).name == "qiyan jueju"
    assert get_form("acrostic", CHINESE).language == CHINESE
    with pytest.raises(UnknownForm, match="There is no form called 'haiku' in Chinese"):
        get_form("haiku", CHINESE)
    with pytest.raises(UnknownForm, match="Pick one of: haiku, tanka"):
        get_form("rap battle")


def test_every_form_has_sensible_limits() -> None:
    for form in FORMS.values():
        low, high = form.lines
        assert 1 <= low <= high
        assert not form.meter or len(form.meter) == high == low
        assert all(len(s) == high for s in form.schemes)
        assert all(source < high and max(repeats) < high for source, repeats in form.refrains)
        assert 40 <= form.max_tokens <= 512


def test_english_requests_are_in_english_and_chinese_in_chinese() -> None:
    system, user = poem_messages(get_form("haiku"), "the harbour", mood="calm")
    assert system["role"] == "system" and "poem only" in system["content"]
    assert (
        user["content"]
        == 'Write a haiku: exactly three lines of 5, 7 and 5 syllables, about "the harbour". The mood is "calm".'
    )
    _, ask = poem_messages(get_form("wuyan jueju", CHINESE), "月亮")
    assert ask["content"].startswith("写一首五言绝句：四句，每句恰好五个汉字")
    assert "题目：“月亮”" in ask["content"]


def test_the_acrostic_word_is_in_the_request() -> None:
    _, ask = poem_messages(get_form("acrostic"), "the sea", word="TIDE")
    assert 'one line for each letter of "TIDE"' in ask["content"]
    _, ask = poem_messages(get_form("acrostic", CHINESE), "春天", word="春风")
    assert "“春风”" in ask["content"]
