"""bot.stories.export: a story as a markdown or text file, with credits, chapters and a safe file name."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest

from bot.stories.export import export_story, filename_for
from storage.stories import Player, Story
from storage.turns import Turn

STORY = Story(
    id=7, guild_id=1, channel_id=2, starter_id=1, title="The Salt Road", genre="fantasy",
    premise="A caravan crosses the salt flats.", mode="round-robin", turn_timeout=0, max_rounds=0, narrate_every=3,
    choices=0, phase="ended", paused=False, round=3, deadline=None, author_note="", summary="", summary_upto=0,
    lobby_message_id=None, created_at=1_700_000_000.0, ended_at=1_700_100_000.0,
)  # fmt: skip
PLAYERS = [
    Player(7, 1, "Ada", 1, 0.0, None),
    Player(7, 2, "Bo*", 2, 0.0, 5.0),  # left, still credited
    Player(7, 3, "Cy", 3, 0.0, None),
]


def t(seq: int, rnd: int, kind: str, author: int | None, text: str = "") -> Turn:
    return Turn(seq, 7, seq, rnd, kind, author, text, 1, len(text.split()), 0.0, None)


TURNS = [
    t(1, 0, "narrator", None, "Dawn over the flats."),
    t(2, 1, "player", 1, "I load the camels."),
    t(3, 1, "skip", 2),
    t(4, 1, "player", 3, "I sing."),
    t(5, 1, "narrator", None, "The camels sway to the song."),
    t(6, 2, "skip", 1),  # a round nobody played: no chapter for it
    t(7, 2, "skip", 2),
    t(8, 3, "player", 1, "I find the well."),
    t(9, 3, "player", 2, "I drink."),
    t(10, 3, "narrator", None, "The water is sweet. The end."),
]


def markdown(story: Story = STORY, turns: list[Turn] = TURNS, model: str = "SmolLM2") -> str:
    file = export_story(story, PLAYERS, turns, "markdown", model)
    assert file.filename == filename_for(story, "markdown")
    return file.content.decode("utf-8")


def test_markdown_has_title_premise_chapters_and_turns_in_order() -> None:
    text = markdown()
    assert text.startswith("# The Salt Road\n")
    assert "*A fantasy story begun on 2023-11-14, told by Ada, Bo\\* and Cy with Taleweaver narrating.*" in text
    assert "> A caravan crosses the salt flats." in text
    assert re.findall(r"^## (.+)$", text, flags=re.M) == ["Prologue", "Chapter 1", "Chapter 3", "Credits"]
    pieces = [
        "## Prologue", "Dawn over the flats.", "## Chapter 1", "**Ada:** I load the camels.", "**Cy:** I sing.",
        "The camels sway to the song.", "## Chapter 3", "**Ada:** I find the well.", "**Bo\\*:** I drink.",
        "The water is sweet. The end.", "## Credits",
    ]  # fmt: skip
    positions = [text.index(p) for p in pieces]
    assert positions == sorted(positions)
    assert text.endswith("\n") and "\n\n\n" not in text
    assert "still being told" not in text


def test_credits_count_each_players_turns_but_not_skips() -> None:
    text = markdown()
    credits = text[text.index("## Credits") :]
    assert "- Ada — 2 turns" in credits
    assert "- Bo\\* — 1 turn\n" in credits
    assert "- Cy — 1 turn\n" in credits
    assert "- Narrator: Taleweaver (SmolLM2)" in credits
    assert markdown(model="").endswith("\n- Narrator: Taleweaver\n")


def test_skips_leave_no_trace() -> None:
    text = markdown()
    assert text.count("**Ada:**") == 2 and text.count("**Bo\\*:**") == 1 and "Chapter 2" not in text


def test_plain_text_export() -> None:
    file = export_story(STORY, PLAYERS, TURNS, "text")
    text = file.content.decode("utf-8")
    assert file.filename == "the-salt-road-7.txt"
    assert text.startswith("THE SALT ROAD\n")
    assert "Premise: A caravan crosses the salt flats." in text
    assert "--- Prologue ---" in text and "--- Chapter 1 ---" in text and "--- Chapter 3 ---" in text
    assert "Ada: I load the camels." in text and "Bo*: I drink." in text
    assert "CREDITS" in text and "  Ada — 2 turns" in text and "  Narrator: Taleweaver" in text
    assert "**" not in text and "##" not in text


def test_a_running_story_says_so_and_an_empty_one_still_exports() -> None:
    running = replace(STORY, ended_at=None, phase="turns")
    assert "(This story is still being told.)" in markdown(running)
    text = markdown(running, turns=[])
    assert "Prologue" not in text and "## Credits" in text and "- Ada — 0 turns" in text


def test_unknown_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="pdf"):
        export_story(STORY, PLAYERS, TURNS, "pdf")


@pytest.mark.parametrize(
    "title",
    [
        "The Salt Road",
        "../../etc/passwd",
        'a\\b:c*d?e"f<g>h|i',
        "🐉🔥✨",
        "Ünïcödé Tale — Part 2",
        "   ",
        "-- rm -rf / --",
        ".hidden",
        "x" * 300,
        "zero\u200bwidth\u200djoin",
        "tab\tnew\nline\rcr\x00nul",
        "CON",
        "東京の夜",
    ],
)
@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_file_names_are_safe_for_any_title(title: str, fmt: str) -> None:
    name = filename_for(replace(STORY, title=title), fmt)
    ext = ".md" if fmt == "markdown" else ".txt"
    assert name.endswith(f"-7{ext}")
    stem = name[: -len(f"-7{ext}")]
    assert stem and len(name) <= 80
    assert not re.search(r"[\\/:*?\"<>|\s\x00-\x1f\u200b-\u200f]", name), name
    assert not name.startswith((".", "-")) and ".." not in name
    assert re.fullmatch(r"[\w-]+", stem), stem


def test_file_names_keep_the_words_of_the_title() -> None:
    assert filename_for(STORY, "markdown") == "the-salt-road-7.md"
    assert filename_for(replace(STORY, title="🐉🔥"), "markdown") == "story-7.md"
    assert filename_for(replace(STORY, title="Ünïcödé Tale"), "text") == "ünïcödé-tale-7.txt"
    assert filename_for(replace(STORY, title="-- rm -rf / --"), "text") == "rm-rf-7.txt"


@pytest.mark.parametrize("fmt", ["markdown", "text", "fountain"])
def test_bidi_controls_and_mentions_never_reach_the_file_but_right_to_left_text_does(fmt: str) -> None:
    arabic, hebrew = "نادية", "שָׁלוֹם"
    story = replace(STORY, title="Salt\u202e Road @everyone", premise="<@&12345> and <@67890> \u2066wait\u2069")
    players = [Player(7, 1, f"Nadia\u202eeman laer {arabic}", 1, 0.0, None), Player(7, 2, "@here", 2, 0.0, None)]
    turns = [t(1, 1, "player", 1, f"\u200fI say {hebrew}\u200e to <@!4242>."), t(2, 1, "player", 2, "@everyone!")]
    text = export_story(story, players, turns, fmt).content.decode("utf-8")
    assert not set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") & set(text)
    assert not re.search(r"@(everyone|here)|<@", text)
    assert f"Nadiaeman laer {arabic}" in text and f"I say {hebrew} to" in text


# --- Fountain (screenplay) ------------------------------------------------------------------------------


def parsed(text: str) -> list[object]:
    """Parsed back with screenplain, an established Fountain parser (what screenwriting tools read)."""
    from screenplain.parsers import fountain as parser

    return list(parser.parse(io.StringIO(text)))


def test_fountain_parses_back_to_scenes_cues_and_action() -> None:
    file = export_story(STORY, PLAYERS, TURNS, "fountain", "SmolLM2")
    assert file.filename == "the-salt-road-7.fountain"
    text = file.content.decode("utf-8")
    assert text.startswith("Title: The Salt Road\n") and "Author: Ada, Bo* and Cy and Taleweaver (SmolLM2)" in text
    kinds = [(type(p).__name__, _plain(p)) for p in parsed(text)]
    assert kinds == [
        ("Slug", "PROLOGUE"),
        ("Action", "Dawn over the flats."),
        ("Slug", "CHAPTER 1"),
        ("Dialog", "ADA: I load the camels."),
        ("Dialog", "CY: I sing."),
        ("Action", "The camels sway to the song."),
        ("Slug", "CHAPTER 3"),
        ("Dialog", "ADA: I find the well."),
        ("Dialog", "BO*: I drink."),
        ("Action", "The water is sweet. The end."),
        ("Action", "THE END"),  # centred: > THE END <
    ]


def test_fountain_keeps_look_alike_text_as_what_it_is() -> None:
    tricky = [
        t(1, 1, "narrator", None, "INT. THE HALL - NIGHT\n\nCUT TO:\n\nMIRA\nspeaks [[a note]] /* hidden */"),
        t(2, 1, "player", 1, "EXT. ROAD\n\n(quietly) I go.\n\n\nOn and on."),
    ]
    kinds = [
        (type(p).__name__, _plain(p)) for p in parsed(export_story(STORY, PLAYERS, tricky, "fountain").content.decode())
    ]
    assert [k for k, _ in kinds] == ["Slug", "Action", "Action", "Action", "Dialog", "Action"], kinds
    assert kinds[1][1] == "INT. THE HALL - NIGHT" and kinds[2][1] == "CUT TO:"
    assert "a note" in kinds[3][1] and "hidden" in kinds[3][1], "notes and boneyards cannot swallow text"
    assert kinds[4][1].startswith("ADA: EXT. ROAD") and "On and on." in kinds[4][1]


def _plain(paragraph: object) -> str:
    name = type(paragraph).__name__
    if name == "Slug":
        return str(paragraph.line)  # type: ignore[attr-defined]
    if name == "Dialog":
        said = " ".join(str(block) for _, block in paragraph.blocks)  # type: ignore[attr-defined]
        return f"{paragraph.character}: {said}"  # type: ignore[attr-defined]
    if name == "Transition":
        return str(paragraph.line)  # type: ignore[attr-defined]
    return " ".join(str(line) for line in paragraph.lines)  # type: ignore[attr-defined]
