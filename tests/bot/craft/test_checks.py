"""bot.craft.check: known-good and known-bad poems for every form, and what the result says about them."""

from __future__ import annotations

import dataclasses

import pytest

from bot.craft import CHINESE, FormCheck, Rhyme, check, get_form
from tests.bot.craft import poems


def checked(form: str, text: str, language: str = "en", word: str = "") -> FormCheck:
    return check(get_form(form, language), text, word)


GOOD = [
    ("haiku", "Cold rain on the roofs\na lantern sways by the door\nthe cat counts the drops"),
    ("haiku", "I'll wait for the train\n3 crows on the wire don't care\no'er the frozen field"),
    ("haiku", "a well-known silence\nsummer 1999\nthe radio hums"),
    ("haiku", "Moon 🌙 on the water\n*waves* fold the light into lace 🌊\n— a gull, then nothing."),
    ("haiku", "Here is a haiku about rain:\n\n1. Cold rain on the roofs\n2. a lantern sways by the door\n"
     "3. the cat counts the drops"),
    ("tanka", "Spring wind through the pines\nmy grandmother's kitchen clock\nticks in an empty\n"
     "house that still smells of warm bread\nand of her hands, warm and slow"),
    ("tanka", "The last bus has gone\nthe timetable flaps its page\nrain on the shelter\n"
     "I count the lit windows up\nthe hill, and name who lives there"),
    ("limerick", "A baker who lived by the sea\nMade muffins for gulls and for me\nThe gulls ate the lot\n"
     "Then flew off to plot\nA raid on his cakes after tea"),
    ("limerick", "A wizard who lived in a shoe\nHad nothing whatever to do\nHe conjured a cat\n"
     "Who sat on his hat\nAnd that is the end of it too"),
    ("quatrain", "The lamps come on along the quay,\nthe fishing boats are tied and still;\n"
     "the tide goes out to find the sea,\nthe wind goes up to find the hill."),
    ("quatrain", "I found a key beneath the stair,\nI left it lying quiet there;\n"
     "it opened nothing I could see,\nand so it made a friend of me."),
    ("sonnet", poems.SONNET_18),
    ("sonnet", poems.LANTERN_SONNET),
    ("villanelle", poems.VILLANELLE),
    ("couplets", "The kettle sings upon the stove,\nthe kitchen smells of bread and clove;\n"
     "the window fogs, the morning grey,\nthe cat has found a place to stay."),
    ("couplets", "A fox went out beneath the moon\nand sang a little crooked tune"),
    ("ballad", "The miller's daughter walked at dawn\nbeside the frozen mill;\nshe heard a horn across the moor\n"
     "and stood there, cold and still.\nA rider came with empty hands\nand mud upon his knees;\n"
     "he said the king had lost his crown\nbeneath the willow trees."),
    ("free verse", "The city sleeps in pieces\none window\nthen another\na bus that hums to no one\n"
     "my shoes by the door\nstill warm"),
]  # fmt: skip

BAD = [
    ("haiku", "Cold rain on the roofs\na lantern sways beside the door\nthe cat counts the drops",
     "line 2 has 8 syllables, wants 7"),
    ("haiku", "The moon over the harbour\nboats sleep\nwaves", "line 1 has 7 syllables, wants 5"),
    ("haiku", "Cold rain on the roofs\na lantern sways by the door\nthe cat counts the drops\nand sleeps",
     "4 lines, wants 3"),
    ("haiku", "Cold rain on the roofs", "1 line, wants 3"),
    ("tanka", "Spring wind through the pines\nmy grandmother's kitchen clock\nticks in an empty\n"
     "house that still smells of oranges\nand of her hands, warm and slow", "line 4 has 8 syllables, wants 7"),
    ("limerick", "A baker who lived by the sea\nMade muffins for gulls and for me\nThe gulls in the harbour ate "
     "all of them quickly\nThen flew off to plot in the evening light\nA raid on his cakes after tea",
     "lines 3 and 4 should be shorter than the others"),
    ("limerick", "A baker who lived by the sea\nMade muffins for gulls and for cats\nThe gulls ate the lot\n"
     "Then flew off to plot\nA raid on his cakes after tea", "lines 1, 2 and 5 do not rhyme"),
    ("quatrain", "The morning comes\nbread on the table\nthe cat is asleep\nnobody speaks", "do not rhyme"),
    ("quatrain", "The lamps come on along the quay,\nthe fishing boats are tied and still;\n"
     "the tide goes out to find the sea.", "3 lines, wants 4"),
    ("sonnet", "\n".join(poems.SONNET_18.splitlines()[:12]), "12 lines, wants 14"),
    ("sonnet", poems.SONNET_18.replace("life to thee.", "life to you."),
     "lines 13 and 14 do not rhyme"),
    ("villanelle", poems.VILLANELLE.replace("I keep the lantern burning by the door.", "The kettle boils."),
     "line 1 does not come back at lines 6, 12 and 18"),
    ("villanelle", "\n".join(poems.VILLANELLE.splitlines()[:11]), "9 lines, wants 19"),
    ("couplets", "The kettle sings upon the stove,\nthe kitchen smells of toast and jam;\n", "do not rhyme"),
    ("free verse", "One line\nand another", "2 lines, wants 6 to 16"),
    ("ballad", "The miller's daughter walked at dawn\nbeside the frozen mill;\nshe heard a horn across the moor\n"
     "and stood there, cold and still.\nA rider came with empty hands\nand mud upon his coat;\n"
     "he said the king had lost his crown\nbeneath the willow trees.", "lines 6 and 8 do not rhyme (coat / trees)"),
]  # fmt: skip


@pytest.mark.parametrize(("form", "text"), GOOD)
def test_good_poems_pass(form: str, text: str) -> None:
    result = checked(form, text)
    assert result.passed, result.table()
    assert result.problems == ()
    assert 0.9 <= result.score <= 1.0
    assert result.summary.startswith("form checked: ")


@pytest.mark.parametrize(("form", "text", "problem"), BAD)
def test_bad_poems_fail_and_say_why(form: str, text: str, problem: str) -> None:
    result = checked(form, text)
    assert not result.passed
    assert any(problem in p for p in result.problems), result.problems
    assert 0.0 <= result.score < 1.0
    assert result.summary.startswith("form missed: ")


def test_the_summary_of_a_good_haiku() -> None:
    result = checked("haiku", GOOD[0][1])
    assert result.summary == "form checked: 3/3 lines"
    assert [(line.expected, line.counted, line.ok) for line in result.lines] == [
        ("5", 5, True),
        ("7", 7, True),
        ("5", 5, True),
    ]


def test_the_summary_of_a_miss_names_the_line_and_by_how_much() -> None:
    result = checked("haiku", BAD[0][1])
    assert result.summary == "form missed: line 2 has 8 syllables, wants 7"
    assert [line.ok for line in result.lines] == [True, False, True]
    assert result.lines_ok == 2


def test_a_near_miss_scores_higher_than_a_far_miss() -> None:
    near = checked("haiku", BAD[0][1])
    far = checked("haiku", BAD[1][1])
    assert 1.0 > near.score > far.score > 0.0


def test_slant_rhyme_passes_but_ranks_below_perfect() -> None:
    perfect = checked("couplets", "I saw the moon\nin early June")
    slant = checked("couplets", "I watched the night\nand lost all time")
    none = checked("couplets", "I watched the night\nand lost my dog")
    assert perfect.passed and slant.passed and not none.passed
    assert perfect.rhymes[0].rhyme == Rhyme.PERFECT and slant.rhymes[0].rhyme == Rhyme.SLANT
    assert perfect.score > slant.score > none.score
    assert slant.summary == "form checked: 2/2 lines, 1/1 rhymes (1 slant)"


def test_the_same_word_twice_is_not_a_rhyme() -> None:
    result = checked("couplets", "I saw the moon\nand then the moon")
    assert not result.passed
    assert result.rhymes[0].rhyme == Rhyme.IDENTICAL
    assert "lines 1 and 2 repeat the same word (moon)" in result.problems


def test_quatrain_takes_whichever_scheme_fits() -> None:
    abab, aabb = checked("quatrain", GOOD[9][1]), checked("quatrain", GOOD[10][1])
    assert (abab.scheme_required, abab.scheme_found) == ("ABAB", "ABAB")
    assert (aabb.scheme_required, aabb.scheme_found) == ("AABB", "AABB")


def test_a_sonnet_allows_a_syllable_either_way_and_no_more() -> None:
    result = checked("sonnet", poems.SONNET_18)
    assert {line.expected for line in result.lines} == {"9-11"}
    assert result.scheme_found == "ABACDEDEFGFGHH"  # temperate / date is a slant rhyme: found, not grouped
    assert [r.rhyme for r in result.rhymes].count(Rhyme.SLANT) == 1
    assert checked("sonnet", poems.LANTERN_SONNET).scheme_found == "ABABCDCDEFEFGG"
    long_line = poems.SONNET_18.replace("Rough winds do shake", "Rough and cold winds do shake")
    missed = checked("sonnet", long_line)
    assert "line 3 has 12 syllables, wants 9-11" in missed.problems


def test_villanelle_refrains_and_rhymes() -> None:
    result = checked("villanelle", poems.VILLANELLE)
    assert [(r.source, r.lines, r.ok) for r in result.refrains] == [(1, (6, 12, 18), True), (3, (9, 15, 19), True)]
    assert [r.group for r in result.rhymes] == ["A", "B"]
    varied = poems.VILLANELLE.replace(
        "I keep the lantern burning by the door.", "I kept the lantern burning by the door."
    )
    assert checked("villanelle", varied).passed  # a refrain may vary a word


def test_acrostic_spells_the_word() -> None:
    poem = (
        "Midnight settles on the bay\nOver roofs the gulls are still\n"
        "One boat rocks beneath the hill\nNight has nothing more to say"
    )
    assert checked("acrostic", poem, word="Moon").passed
    assert checked("acrostic", poem, word="moon").summary == "form checked: 4/4 lines, spells MOON"
    wrong = checked("acrostic", poem, word="sea")
    assert not wrong.passed
    assert "the line initials spell MOON, wants SEA" in wrong.problems
    assert "4 lines, wants 3" in wrong.problems
    assert checked("acrostic", "Élan\nAt dawn", word="ea").passed  # accents off
    assert "no word was given for the acrostic" in checked("acrostic", poem).problems


def test_stanza_schemes_repeat_with_fresh_letters() -> None:
    couplets = checked("couplets", GOOD[-4][1])
    assert couplets.scheme_required == "AABB"
    ballad = checked("ballad", GOOD[-2][1])
    assert ballad.scheme_required == ".A.A.B.B"
    assert [r.lines for r in ballad.rhymes] == [(2, 4), (6, 8)]


def test_free_verse_checks_only_the_line_count() -> None:
    result = checked("free verse", GOOD[-1][1])
    assert result.scheme_required == "" and result.rhymes == () and result.summary == "form checked: 6/6 lines"


# --- Chinese -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("form", "text"),
    [
        ("wuyan jueju", poems.JINGYESI),
        ("wuyan jueju", poems.JINGYESI_TRADITIONAL),
        ("wuyan jueju", poems.DENG_GUANQUELOU),
        ("wuyan jueju", f"《静夜思》\n李白\n{poems.JINGYESI}".replace("李白\n", "")),
        ("qiyan jueju", poems.JUEJU_DUFU),
        ("qiyan jueju", poems.JUEJU_DUFU_TRADITIONAL),
        ("qiyan jueju", poems.ZAOFA_BAIDICHENG),
        ("五言绝句", poems.JINGYESI),  # the form by its Chinese name
    ],
)
def test_classic_jueju_pass(form: str, text: str) -> None:
    result = checked(form, text, CHINESE)
    assert result.passed, result.table()
    assert result.unit == "characters"
    assert len(result.lines) == 4
    assert all(len(line.tones) == line.counted for line in result.lines)


def test_jueju_reports_tones_and_the_rhyme() -> None:
    result = checked("wuyan jueju", poems.JINGYESI, CHINESE)
    assert [line.tones for line in result.lines] == ["平平平仄平", "平仄仄仄平", "仄平仄平仄", "平平平仄平"]
    assert result.rhymes[0].words == ("霜", "乡")
    assert result.scheme_found == "AABA"  # the first line rhymes too (光); reported, not required
    assert result.summary == "form checked: 4/4 lines, 1/1 rhymes"


@pytest.mark.parametrize(
    ("form", "text", "problem"),
    [
        ("qiyan jueju", poems.JINGYESI, "line 1 has 5 characters, wants 7"),
        ("wuyan jueju", poems.JUEJU_DUFU, "line 1 has 7 characters, wants 5"),
        (
            "wuyan jueju",
            "春天花开了，\n小鸟在唱歌。\n河水向东流，\n我们去上学。",
            "lines 2 and 4 do not rhyme (歌 / 学)",
        ),
        ("wuyan jueju", "床前明月光，疑是地上霜。", "2 lines, wants 4"),
        ("wuyan jueju", "床前的明月光，疑是地上霜。\n举头望明月，低头思故乡。", "line 1 has 6 characters, wants 5"),
    ],
)
def test_broken_jueju_fail(form: str, text: str, problem: str) -> None:
    result = checked(form, text, CHINESE)
    assert not result.passed
    assert problem in result.problems


def test_chinese_acrostic() -> None:
    assert checked("acrostic", "春雨落在小河上\n风吹柳叶满城香", CHINESE, word="春风").passed
    assert not checked("acrostic", "春雨落在小河上\n雨打芭蕉满城香", CHINESE, word="春风").passed


def test_results_are_frozen() -> None:
    result = checked("haiku", GOOD[0][1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.passed = False  # type: ignore[misc]


def test_the_table_shows_every_line() -> None:
    table = checked("haiku", "Cold rain on the glorptastic roofs\na lantern\nthe cat").table()
    assert "glorptastic" in table and "(guessed: glorptastic)" in table
    assert len(table.splitlines()) == 4


@pytest.mark.parametrize(
    ("form", "text", "language"),
    [("villanelle", poems.VILLANELLE, "en"), ("haiku", BAD[0][1], "en"), ("wuyan jueju", poems.JINGYESI, CHINESE)],
)
def test_a_check_survives_a_round_trip_through_json(form: str, text: str, language: str) -> None:
    result = checked(form, text, language)
    assert FormCheck.from_json(result.to_json()) == result


def test_a_runaway_draft_is_checked_quickly_and_described_briefly() -> None:
    text = "\n".join(f"@everyone line {i} 🌙 \u202e<@&123> of the night" for i in range(3000))
    result = checked("couplets", text)
    assert not result.passed
    assert result.problems[0] == "3000 lines, wants 2 to 12"
    assert len(result.lines) == 40
    assert result.scheme_required == "AABBCCDDEEFF"  # the form's longest, not 1,500 couplets
    assert all(len(p) < 200 for p in result.problems)
    assert "lines 1, 3, 4, 6, 7 and 8 more" in checked("villanelle", text).summary
