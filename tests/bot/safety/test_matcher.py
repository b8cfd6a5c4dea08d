"""bot.safety.matcher: blocked words found through the usual disguises, and only as whole words."""

from __future__ import annotations

import pytest

from bot.safety.matcher import REDACTION, Matcher, digest

M = Matcher(["grue", "dark lord", "猫", "Ünïcode"])


@pytest.mark.parametrize(
    "text",
    [
        "a grue appears",
        "A GRUE!",
        "ｇｒｕｅ",  # fullwidth
        "g\u200brue",  # zero-width space inside
        "g\u00adr\u2060ue",  # soft hyphen, word joiner
        "\u202egrue\u202c",  # right-to-left override around it
        "g\u0301ru\u0308e",  # combining accents
        "the Dark   Lord rises",
        "the dark\nlord",
        "a 猫 and a dog",
        "黑猫",  # no word boundaries in CJK
        "unicode is fun",  # the entry's accents fold away too
    ],
)
def test_disguised_blocked_words_are_found(text: str) -> None:
    assert M.find(text), text


@pytest.mark.parametrize("text", ["gruesome tale", "congrue", "the darkly lordly", "", "grue_some", "dark-lordship"])
def test_words_inside_other_words_are_not(text: str) -> None:
    assert not M.find(text), (text, M.find(text))


def test_redaction_maps_back_to_the_original_text() -> None:
    text = "Beware the g\u200brue and the DARK LORD, friend."
    redacted = M.redact(text)
    assert "rue" not in redacted and "DARK" not in redacted
    assert redacted.startswith("Beware the ") and redacted.endswith(", friend.")
    assert redacted.count(REDACTION) >= 6
    assert {h.rule for h in M.find(text)} == {0, 1}


def test_digest_names_a_rule_without_the_word() -> None:
    assert digest("Grue") == digest("grue") and "grue" not in digest("grue") and len(digest("grue")) == 12


def test_empty_list_and_blank_terms() -> None:
    assert Matcher([]).find("anything") == []
    assert Matcher(["\u200b", "  "]).find("anything at all") == []
