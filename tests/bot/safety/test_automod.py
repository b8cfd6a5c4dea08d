"""bot.safety.automod: Discord's keyword syntax, allow lists, regexes with a time guard, and the cache."""

from __future__ import annotations

import time

import pytest

from bot.safety import objection
from bot.safety.automod import AutoModRules, KeywordRule, first_match


def hit(text: str, **rule: object) -> str | None:
    found = first_match([KeywordRule(1, "r", **rule)], text)  # type: ignore[arg-type]
    return found[1] if found else None


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("cat", "The Cat sat.", "cat"),
        ("cat", "a catapult", None),  # whole word only
        ("cat*", "a Catapult flies", "catapult"),
        ("cat*", "bobcat", None),
        ("*cat", "a bobcat", "bobcat"),
        ("*cat", "catapult", None),
        ("*cat*", "concatenate", "concatenate"),
        ("bad word", "a BAD\n  word here", "bad\n  word"),
        ("cat", "c\u200ba\u200dt and c\u202eat", "cat"),  # invisible characters cannot split it
        ("ｃａｔ", "cat", "cat"),  # NFKC: full-width letters are the same word
        ("*", "anything", None),  # a bare wildcard is no keyword
    ],
)
def test_keyword_syntax(keyword: str, text: str, expected: str | None) -> None:
    assert hit(text, keywords=(keyword,)) == expected


def test_allow_list_exempts_the_words_it_matches() -> None:
    rule = {"keywords": ("*dragon*",), "allow": ("dragonfly", "snap*")}
    assert hit("a dragonfly and a snapdragon", **rule) is None
    assert hit("a dragonfly and a dragon", **rule) == "dragon"


def test_regexes_are_case_insensitive_and_time_guarded() -> None:
    assert hit("ZORK lives", regexes=(r"\bzork\b",)) == "zork"
    assert hit("nothing", regexes=(r"[unclosed",)) is None  # an unusable pattern is skipped, not fatal
    began = time.monotonic()
    assert hit("a" * 40 + "!", regexes=(r"(a+)+$",)) is None  # catastrophic backtracking, cut short
    assert time.monotonic() - began < 5


async def test_cache_loads_once_follows_events_and_retries_unreadable_servers() -> None:
    loads: list[int] = []
    readable = {1: [KeywordRule(10, "no dragons", keywords=("dragon",))]}
    now = [0.0]

    async def loader(guild_id: int) -> list[KeywordRule] | None:
        loads.append(guild_id)
        return readable.get(guild_id)

    rules = AutoModRules(loader, clock=lambda: now[0])
    assert await rules.check(1, "A DRAGON!") == "this server's AutoMod rule “no dragons”"
    assert await rules.check(1, "a dragonfly") is None
    assert await rules.check(2, "a dragon") is None, "another server's rules do not apply"
    rules.put(1, KeywordRule(11, "no grues", regexes=(r"gr[uo]e",)))
    rules.put(1, KeywordRule(10, "no dragons", keywords=("dragon",), enabled=False))
    assert await rules.check(1, "a dragon") is None and (await rules.check(1, "a groe")) is not None
    rules.drop(1, 11)
    assert await rules.check(1, "a groe") is None
    assert loads == [1, 2]
    await rules.check(2, "x")
    assert loads == [1, 2], "an unreadable server is not asked again at once"
    now[0] += 601
    await rules.check(2, "x")
    assert loads == [1, 2, 2]


async def test_objection_asks_each_check_in_turn() -> None:
    async def fine(guild_id: int, text: str) -> str | None:
        return None

    async def picky(guild_id: int, text: str) -> str | None:
        return "too picky" if "x" in text else None

    assert await objection([fine, picky], 1, "xyz") == "too picky"
    assert await objection([fine, picky], 1, "abc") is None
