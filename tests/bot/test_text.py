"""bot.text: cleaning user input, defusing mentions, escaping, and splitting long text for Discord."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from bot.text import (
    BIDI_CONTROLS,
    MESSAGE_LIMIT,
    InputProblem,
    clean_input,
    cut_at_boundary,
    defuse_mentions,
    echo,
    escape_markdown,
    quote,
    split_message,
    truncate,
    visible_length,
)

ARABIC, HEBREW = "نادية تكتب", "שָׁלוֹם עוֹלָם"  # letters, harakat and niqqud must come through untouched

# --- clean_input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t \r\n", "\u200b", "\u200b\u200d\ufeff \u2060\u200e"])
def test_clean_input_refuses_empty_and_invisible_text(raw: str | None) -> None:
    with pytest.raises(InputProblem) as info:
        clean_input(raw, field="topic", max_length=100)
    assert str(info.value) == "The topic is empty (invisible characters don't count). Please write something."


def test_clean_input_removes_control_characters_and_normalizes() -> None:
    decomposed = "cafe\u0301"  # e + combining acute: NFC makes it one character
    assert clean_input(f"  \x00{decomposed}\x07 na\x1bive\x7f  ", field="topic", max_length=100) == "café naive"
    assert clean_input(f"{decomposed}", field="t", max_length=100) == unicodedata.normalize("NFC", decomposed)
    assert len(clean_input(decomposed, field="t", max_length=100)) == 4


def test_clean_input_multiline_normalizes_newlines() -> None:
    text = "first\r\nsecond\rthird\n\n\n\n\nfourth\ttab"
    assert clean_input(text, field="story", max_length=100) == "first\nsecond\nthird\n\nfourth\ttab"


def test_clean_input_single_line_collapses_whitespace() -> None:
    text = "  a\r\nb \n\n\n c\t\td  "
    assert clean_input(text, field="topic", max_length=100, multiline=False) == "a b c d"


def test_clean_input_keeps_zero_width_joiners_inside_emoji() -> None:
    family = "👨\u200d👩\u200d👧"
    assert clean_input(f"\u200b {family} family \u200b", field="topic", max_length=100) == f"{family} family"


@pytest.mark.parametrize("control", list(BIDI_CONTROLS))
def test_clean_input_removes_bidi_controls_everywhere_but_keeps_right_to_left_letters(control: str) -> None:
    raw = f"{control}Nadia{control}eman laer {ARABIC} {HEBREW}{control}"
    assert clean_input(raw, field="name", max_length=100) == f"Nadiaeman laer {ARABIC} {HEBREW}"
    assert clean_input(raw, field="name", max_length=100, multiline=False) == f"Nadiaeman laer {ARABIC} {HEBREW}"


def test_clean_input_too_long_says_exactly_how_long() -> None:
    with pytest.raises(InputProblem) as info:
        clean_input("x" * 5000, field="topic", max_length=200)
    assert str(info.value) == "The topic is 5,000 characters long; the limit is 200. Please shorten it."
    assert clean_input("x" * 200, field="topic", max_length=200) == "x" * 200  # the limit itself is fine


def test_clean_input_minimum_length() -> None:
    with pytest.raises(InputProblem, match="The name is too short: at least 3 characters"):
        clean_input("ab", field="name", max_length=10, min_length=3)
    assert clean_input("abc", field="name", max_length=10, min_length=3) == "abc"
    assert clean_input("", field="mood", max_length=10, min_length=0) == ""


def test_visible_length_ignores_invisible_characters() -> None:
    assert visible_length("\u200ba\u200db\u2060 ") == 2


# --- mentions and markdown ----------------------------------------------------------------------------


@pytest.mark.parametrize("ping", ["@everyone", "@here", "@Everyone", "@HERE", "@eVeRyOnE", "@everyones", "@here_"])
def test_defuse_mentions_breaks_mass_mentions(ping: str) -> None:
    out = defuse_mentions(f"hey {ping}!")
    assert not re.search("@(everyone|here)", out, re.IGNORECASE)
    assert out.replace("\u200b", "") == f"hey {ping}!"  # only an invisible character was added


def test_defuse_mentions_breaks_role_mentions_but_not_user_or_channel_mentions() -> None:
    text = "ping <@&123456789012345678> and <@42> and <@!43> in <#44>"
    out = defuse_mentions(text)
    assert "<@&123456789012345678>" not in out
    assert "<@42>" in out and "<@!43>" in out and "<#44>" in out
    assert out.replace("\u200b", "") == text


def test_defuse_mentions_is_idempotent() -> None:
    once = defuse_mentions("@everyone @here <@&1>")
    assert defuse_mentions(once) == once


def test_echo_removes_bidi_controls_and_defuses_every_mention() -> None:
    hostile = (
        "\u202eNadia\u2066 @everyone @here <@&123456789012345678> <@42> <@!43> "
        f"\u061c{ARABIC}\u200f {HEBREW}\u200e in <#44>"
    )
    out = echo(hostile)
    assert not set(BIDI_CONTROLS) & set(out)
    assert not re.search(r"@(everyone|here)|<@", out, re.IGNORECASE)
    assert out.replace("\u200b", "") == "".join(c for c in hostile if c not in BIDI_CONTROLS)
    assert ARABIC in out and HEBREW in out and "<#44>" in out
    assert echo(out) == out


def test_quote_removes_bidi_controls() -> None:
    assert quote("Nadia\u202eeman laer \u2067" + HEBREW + "\u2069") == "Nadiaeman laer " + HEBREW


MARKDOWN_SAMPLES = [
    "**bold** __underline__ *italic* ~~strike~~ `code` ```fence``` ||spoiler||",
    "> quote\n# heading\n- bullet\n[link](https://example.com)",
    "back\\slash \\*already escaped\\*",
    "plain words stay plain, 123.",
]


@pytest.mark.parametrize("text", MARKDOWN_SAMPLES)
def test_escape_markdown_round_trips(text: str) -> None:
    escaped = escape_markdown(text)
    assert re.sub(r"\\(.)", r"\1", escaped, flags=re.DOTALL) == text  # unescaping gives the original back
    for i, char in enumerate(escaped):  # every markdown character is preceded by a backslash
        if char in "*_~`|>[]()#-" and (i == 0 or escaped[i - 1] != "\\"):
            pytest.fail(f"unescaped {char!r} at {i} in {escaped!r}")


def test_escape_markdown_leaves_plain_text_alone() -> None:
    assert escape_markdown("plain words stay plain, 123.") == "plain words stay plain, 123."


def test_quote_is_short_flat_escaped_and_safe() -> None:
    assert quote("  a **bold**\n\nidea  ") == "a \\*\\*bold\\*\\* idea"
    assert quote("@everyone look") == "@\u200beveryone look"
    long = quote("word " * 100, limit=50)
    assert long.endswith("…") and len(long) <= 50
    assert quote("short", limit=50) == "short"


def test_truncate() -> None:
    assert truncate("abc", 3) == "abc"
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("ab   cdef", 6) == "ab…"


# --- split_message: boundaries ------------------------------------------------------------------------


def test_split_empty_gives_no_chunks() -> None:
    assert split_message("") == []
    assert split_message("  \n\n ") == []


def test_split_exactly_the_limit_is_one_chunk() -> None:
    text = "a" * MESSAGE_LIMIT
    assert split_message(text) == [text]


def test_split_one_over_the_limit_is_two_chunks() -> None:
    text = "a" * (MESSAGE_LIMIT + 1)
    chunks = split_message(text)
    assert len(chunks) == 2 and "".join(chunks) == text
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)


def test_split_prefers_paragraphs() -> None:
    first = "word " * 150 + "end."  # ~754 characters, with spaces, lines and sentences to be tempted by
    second = "line one.\nline two. " + "more " * 300
    chunks = split_message(first + "\n\n" + second, limit=1000)
    assert chunks[0] == first


def test_split_prefers_lines_over_sentences() -> None:
    text = "Sentence one. " * 40 + "\n" + "Sentence two. " * 40
    chunks = split_message(text, limit=800)
    assert chunks[0] == ("Sentence one. " * 40).rstrip()


def test_split_prefers_sentences_over_words() -> None:
    text = "alpha beta gamma. " * 30 + "delta epsilon zeta eta theta iota kappa lambda mu"
    chunks = split_message(text, limit=560)
    assert chunks[0].endswith("gamma.")
    assert len(chunks[0]) <= 560


def test_split_prefers_words_over_hard_cuts() -> None:
    text = " ".join(["storyteller"] * 300)
    chunks = split_message(text, limit=100)
    assert all(set(chunk.split(" ")) == {"storyteller"} for chunk in chunks)  # no word was cut


def test_split_a_boundary_too_early_is_not_used() -> None:
    text = "ab. " + "x" * 300  # the only sentence break is at 4: better one hard cut than a tiny chunk
    chunks = split_message(text, limit=100)
    assert len(chunks[0]) == 100


def test_split_cuts_a_very_long_word_hard() -> None:
    word = "supercalifragilistic" * 300
    chunks = split_message(word, limit=MESSAGE_LIMIT)
    assert [len(c) for c in chunks] == [2000, 2000, 2000]
    assert "".join(chunks) == word


def test_split_limit_must_be_sensible() -> None:
    with pytest.raises(ValueError):
        split_message("abc", limit=1)


# --- split_message: never inside a character cluster --------------------------------------------------

CLUSTERS = {
    "zwj family": "👨\u200d👩\u200d👧\u200d👦",
    "zwj with skin tones": "👩🏽\u200d💻",
    "kiss": "👩\u200d❤\ufe0f\u200d💋\u200d👨",
    "skin tone": "👍🏿",
    "flag": "🇫🇷",
    "subdivision flag": "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "keycap": "1\ufe0f\u20e3",
    "combining accents": "e\u0301\u0323",
    "devanagari": "कि",
    "thai": "กั",
    "text presentation": "❤\ufe0e",
}


@pytest.mark.parametrize("name", CLUSTERS)
def test_split_never_cuts_inside_a_cluster(name: str) -> None:
    cluster = CLUSTERS[name]
    for limit in range(len(cluster) + 2, 40):
        for pad in range(0, 6):
            text = "x" * pad + cluster * 30  # no spaces: only hard cuts are possible
            chunks = split_message(text, limit=limit)
            assert "".join(chunks) == text
            for chunk in chunks:
                assert len(chunk) <= limit
                assert chunk.lstrip("x").replace(cluster, "") == "", (name, limit, pad, chunk)


def test_split_flags_pair_up_from_the_start_of_the_run() -> None:
    flags = "🇫🇷🇩🇪🇯🇵🇧🇷🇨🇦"
    for limit in range(3, 12):
        for chunk in split_message(flags * 5, limit=limit):
            assert len(chunk) % 2 == 0 and chunk[:2] in flags


CLUSTER_SET = frozenset(CLUSTERS.values())
WHITESPACE = dict.fromkeys(map(ord, " \n\t"), None)


def atoms_of(rng: random.Random) -> list[str]:
    """Random text as a list of atoms: words, clusters, CJK characters, spaces and breaks."""
    choices = [
        lambda: rng.choice(["the", "moon", "über", "naïve", "storyteller", "a", "I"]),
        lambda: "".join(rng.choice("abcdefghij") for _ in range(rng.randint(30, 300))),  # very long word
        lambda: rng.choice(list(CLUSTERS.values())),
        lambda: rng.choice("月光の下で静かに猫が眠る"),
        lambda: rng.choice(["é", "ñ", "ß", "Ω", "ж"]),
        lambda: rng.choice(list(".,;!?")),
    ]
    separators = [" ", " ", " ", "\n", "\n\n", ". ", ", ", "! ", ""]
    atoms = []
    for _ in range(rng.randint(0, 700)):
        atoms.append(rng.choice(choices)())
        atoms.append(rng.choice(separators))
    return atoms


def test_split_property_many_random_texts() -> None:
    rng = random.Random(20240506)
    for _ in range(300):
        atoms = atoms_of(rng)
        text = "".join(atoms)
        boundaries, end = {0}, 0
        for atom in atoms:  # where a cut may fall: around clusters, anywhere in plain words and whitespace
            if atom in CLUSTER_SET:
                boundaries.add(end + len(atom))
            else:
                boundaries.update(range(end + 1, end + len(atom) + 1))
            end += len(atom)
        limit = rng.choice([24, 25, 40, 100, 333, MESSAGE_LIMIT])
        chunks = split_message(text, limit=limit)
        assert all(0 < len(c) <= limit for c in chunks)
        assert all(c.strip() for c in chunks)
        assert "".join(chunks).translate(WHITESPACE) == text.translate(WHITESPACE)
        position = 0
        for chunk in chunks:  # each chunk is a piece of the text between cluster boundaries
            start = text.index(chunk, position)
            assert text[position:start].strip() == ""
            assert start in boundaries and start + len(chunk) in boundaries, (chunk[:20], chunk[-20:])
            position = start + len(chunk)
        assert text[position:].strip() == ""


# --- loops of a small model --------------------------------------------------------------------------
def test_repeated_sentences_are_dropped_but_distinct_ones_kept() -> None:
    from bot.text import drop_repeated_sentences

    looped = "It is a gift. A jewel of gold. A jewel of gold. A Jewel of gold!\n\nA jewel of gold.\n\nThe end? The end."
    assert drop_repeated_sentences(looped) == "It is a gift. A jewel of gold.\n\nThe end?"
    prose = 'He said "Stop." Then he left.\nThe door closed.\n\nRain fell.'
    assert drop_repeated_sentences(prose) == prose


def test_runs_of_one_word_collapse_but_short_repeats_stay() -> None:
    from bot.text import collapse_word_runs

    assert collapse_word_runs("eh, eh, eh eh eh eh eh eh") == "eh eh eh"
    assert collapse_word_runs("Never, never, never give up") == "Never, never, never give up"
    assert collapse_word_runs("the the") == "the the"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("The rain falls.\nOn the roof it dr", "The rain falls."),
        ("Line one\nline two\nline th", "Line one\nline two"),
        ('She said "go." Then he', 'She said "go."'),
        ("It was 3.5 metres. And th", "It was 3.5 metres."),  # a decimal point is not a sentence end
        ("no boundary at all in this text", "no boundary at all in this text…"),
        ("A. " + "word " * 30, ("A. " + "word " * 30).rstrip() + "…"),  # a boundary too early: kept whole
        ("", ""),
    ],
)
def test_cut_at_boundary_keeps_whole_lines_and_sentences(text: str, kept: str) -> None:
    assert cut_at_boundary(text) == kept
