"""bot.craft.clean_draft: a model's answer reduced to the lines of its poem."""

from __future__ import annotations

import pytest

from bot.craft import clean_draft

POEM = ("Cold rain on the roofs", "a lantern sways by the door", "the cat counts the drops")
BODY = "\n".join(POEM)


@pytest.mark.parametrize(
    "draft",
    [
        BODY,
        f"Here is a haiku about rain:\n\n{BODY}",
        f"Sure! Here's a haiku for you:\n{BODY}",
        f"Sure!\n\n{BODY}",
        f"# Rain\n\n{BODY}",
        f"**Rain**\n\n{BODY}",
        f"Title: Rain\n{BODY}",
        f"```\n{BODY}\n```",
        "1. Cold rain on the roofs\n2. a lantern sways by the door\n3. the cat counts the drops",
        "Line 1: Cold rain on the roofs\nLine 2: a lantern sways by the door\nLine 3: the cat counts the drops",
        "- Cold rain on the roofs\n- a lantern sways by the door\n- the cat counts the drops",
        "> Cold rain on the roofs\n> a lantern sways by the door\n> the cat counts the drops",
        "*Cold rain* on the roofs\na **lantern** sways by the door\nthe cat counts the `drops`",
        '"Cold rain on the roofs"\n"a lantern sways by the door"\n“the cat counts the drops”',
        '"Cold rain on the roofs\na lantern sways by the door\nthe cat counts the drops"',  # the whole poem quoted
        f"{BODY}\n\nNote: a haiku has 17 syllables.",
        f"{BODY}\n\nI hope you enjoy this haiku!",
        "\u200bCold rain on the roofs\r\n\u202ea lantern sways by the door\r\n\r\n\n\nthe cat counts the drops\n\n",
    ],
)
def test_the_poem_survives_the_wrapping(draft: str) -> None:
    assert clean_draft(draft) == POEM


def test_chinese_titles_and_prefaces_go() -> None:
    draft = (
        "好的，以下是一首五言绝句：\n《静夜思》\n床前明月光，疑是地上霜。\n\n"
        "举头望明月，低头思故乡。\n注：这是李白的诗。"
    )
    assert clean_draft(draft) == ("床前明月光，疑是地上霜。", "举头望明月，低头思故乡。")


def test_repeated_lines_are_kept_for_refrains() -> None:
    assert clean_draft("Do not sleep\nthe sea\nDo not sleep") == ("Do not sleep", "the sea", "Do not sleep")


def test_a_first_line_that_merely_resembles_a_preface_but_does_not_end_with_a_colon_is_kept() -> None:
    assert clean_draft("Here is the harbour\nwhere the boats sleep")[0] == "Here is the harbour"


def test_nothing_in_gives_nothing_out() -> None:
    assert clean_draft("") == ()
    assert clean_draft("\n\n  \u200b \n") == ()
    assert clean_draft("Here is a poem:") == ()
