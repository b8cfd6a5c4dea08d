"""bot.craft.chinese: characters, finals and tones from pypinyin, simplified and traditional alike."""

from __future__ import annotations

import pytest

from bot.craft.chinese import clauses, end_char, han_count, line_places, rhyme, rhyme_group, tones
from bot.craft.result import Rhyme


def test_only_han_characters_are_counted_as_characters() -> None:
    assert han_count("床前明月光，") == 5
    assert han_count("「床前明月光」。🌙") == 5
    assert han_count("牀前明月光") == 5  # a variant character
    assert line_places("床前明月光 moon 3") == (7, 7, ())  # another script's word takes a place too


def test_clauses_split_a_couplet_written_on_one_line() -> None:
    assert clauses(["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"]) == [
        "床前明月光",
        "疑是地上霜",
        "举头望明月",
        "低头思故乡",
    ]


def test_the_end_character_skips_punctuation() -> None:
    assert end_char("低头思故乡。」") == "乡"
    assert end_char("no han here") == ""


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("光", "霜", Rhyme.PERFECT),  # uang / uang
        ("霜", "乡", Rhyme.PERFECT),  # uang / iang: the same body, 唐
        ("鄉", "霜", Rhyme.PERFECT),  # traditional 鄉 reads as simplified 乡
        ("楼", "流", Rhyme.PERFECT),  # ou / iou: 尤
        ("樓", "流", Rhyme.PERFECT),
        ("天", "船", Rhyme.PERFECT),  # ian / uan: 寒
        ("還", "山", Rhyme.PERFECT),  # 还 huán (not hái), in either script
        ("时", "衣", Rhyme.SLANT),  # 支 and 齐 are rhymed together in practice
        ("歌", "学", Rhyme.NONE),  # e / üe
        ("山", "风", Rhyme.NONE),
        ("霜", "霜", Rhyme.IDENTICAL),
    ],
)
def test_rhymes_by_final(a: str, b: str, kind: Rhyme) -> None:
    assert rhyme(a, b) == kind


def test_a_heteronym_reads_in_context_first() -> None:
    assert rhyme_group("还", "千里江陵一日还")[0] == "开"  # pypinyin's guess in context: hái
    assert "寒" in rhyme_group("还", "千里江陵一日还")  # but huán is a reading too


def test_the_buzzing_i_is_its_own_group() -> None:
    assert rhyme_group("诗") == ("支",)
    assert rhyme_group("衣") == ("齐",)


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("床前明月光", "平平平仄平"),
        ("牀前明月光", "平平平仄平"),
        ("低頭思故鄉", "平平平仄平"),  # traditional
        ("疑是地上霜", "平仄仄仄平"),
        ("hello", ""),
    ],
)
def test_level_and_oblique_tones(line: str, pattern: str) -> None:
    assert tones(line) == pattern
