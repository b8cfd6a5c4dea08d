"""bot.npcs.model: names Discord accepts, hostile names refused with a reason, card fields checked."""

from __future__ import annotations

import pytest

from bot.npcs.model import CARD_FIELDS, NAME_LIMIT, Npc, check_name, check_text, name_key, parse_tags, speaking_name
from bot.text import InputProblem


def test_card_fields_are_the_sillytavern_ones() -> None:
    assert set(CARD_FIELDS) == {
        "name", "description", "personality", "scenario", "first_mes", "mes_example", "system_prompt",
        "post_history_instructions", "alternate_greetings", "tags", "creator", "creator_notes",
        "character_version", "extensions",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mira", "Mira"),
        ("  Old   Mira  ", "Old Mira"),
        ("Mi\u200bra\u202e", "Mira"),  # zero-width and bidi controls stripped
        ("ميرا", "ميرا"),
        ("🧙\u200d♀️ Mage", "🧙♀️ Mage"),
        ("x" * NAME_LIMIT, "x" * NAME_LIMIT),
    ],
)
def test_good_names(raw: str, expected: str) -> None:
    assert check_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("\u200b\u200b", "empty"),
        ("x" * (NAME_LIMIT + 1), "at most 80"),
        ("My Discord Pal", "`discord`"),
        ("CLYDE", "`clyde`"),
        ("Ｄｉｓｃｏｒｄ", "`discord`"),  # fullwidth folds to the same word
        ("<@123>", "mention"),
        ("<@&9>", "mention"),
        ("@everyone", "`@`"),
        ("everyone", "reserved"),
        ("a#b", "`#`"),
        ("a:b", "`:`"),
        ("a```b", "backticks"),
    ],
)
def test_hostile_names_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InputProblem, match=reason):
        check_name(raw)


@pytest.mark.parametrize("stored", ["Discord Bot", "clyde", "@everyone", "a:b#c", "here", "", "x" * 300, "<@1> hi"])
def test_speaking_name_is_always_acceptable(stored: str) -> None:
    shown = speaking_name(stored)
    folded = shown.casefold()
    assert 1 <= len(shown) <= NAME_LIMIT
    assert "discord" not in folded and "clyde" not in folded
    assert not any(bad in shown for bad in ("@", "#", ":", "```"))
    assert folded.strip() not in {"everyone", "here"}


def test_name_key_folds_case_width_and_spaces() -> None:
    assert name_key("  OLD   Mira") == name_key("old mira") == name_key("ＯＬＤ mira")


def test_text_fields_are_checked_and_optional() -> None:
    assert check_text("scenario", "   ") == ""
    assert check_text("description", " A seer.\u202e ", required=True) == "A seer."
    with pytest.raises(InputProblem, match="persona is empty"):
        check_text("description", "\u200b", required=True)
    with pytest.raises(InputProblem, match="greeting is 4,001 characters"):
        check_text("first_mes", "x" * 4001)


def test_tags_and_greetings() -> None:
    assert parse_tags("elf, merchant ,  elf,,") == ("elf", "merchant")
    assert Npc(name="M", first_mes="Hi", alternate_greetings=("", "Yo")).greetings == ("Hi", "Yo")
