"""bot.evaluate.report: summaries from fixed results, the terminal table and the PNG chart."""

from __future__ import annotations

from pathlib import Path

from bot.evaluate.report import chart, summarise, table
from bot.evaluate.runner import PoemResult, StoryResult


def poem(item: str, group: str, passed: tuple[bool, ...], scores: tuple[float, ...], best: int) -> PoemResult:
    drafts = tuple(f"draft {i} of {item} about the sea" for i in range(len(passed)))
    return PoemResult(item, group, "en", drafts, (False,) * len(passed), scores, passed, best, "first", "best")


RESULTS = [
    poem("h1", "en:haiku", (False, True, False), (0.5, 1.0, 0.2), 1),
    poem("h2", "en:haiku", (False, False, False), (0.4, 0.6, 0.2), 1),
    poem("s1", "en:sonnet", (True, True, False), (1.0, 1.0, 0.2), 0),
    StoryResult(
        "st",
        "story:continuation",
        ("Mira: I run.", "The wind howls, as I said.", "The wind howls on."),
        (False, False, True),
        (True, False, False),
        (False, True, False),
        (0, 8, 3),
        (True, False, False),
    ),
    PoemResult("broken", "en:sonnet", "en", (), (), (), (), 0, "", "", (), "The engine is not reachable."),
]


def test_summary_figures() -> None:
    summary = summarise(RESULTS)
    haiku, sonnet, story = (summary["groups"][g] for g in ("en:haiku", "en:sonnet", "story:continuation"))
    assert (haiku["prompts"], haiku["samples"], haiku["first_pass"], haiku["best_pass"]) == (2, 6, 0.0, 0.5)
    assert (haiku["first_score"], haiku["best_score"]) == (0.45, 0.8)
    assert (sonnet["prompts"], sonnet["errors"], sonnet["first_pass"], sonnet["best_pass"]) == (2, 1, 1.0, 1.0)
    assert story["speaks_for_player"] == 0.3333
    assert story["first_person"] == 0.3333
    assert story["copies_earlier"] == 0.3333  # one take copied 8 words in a row
    assert story["longest_copy_mean"] == 3.6667
    assert story["unusable"] == 0.3333
    assert story["truncated"] == 0.3333
    overall = summary["overall"]
    assert (overall["prompts"], overall["errors"]) == (5, 1)
    assert (overall["first_pass"], overall["best_pass"]) == (0.5, 0.75)  # each form counts once
    assert overall["narration_speaks_for_player"] == 0.3333
    for group in summary["groups"].values():
        for key in ("distinct_1", "distinct_2"):
            assert 0.0 <= group[key] <= 1.0


def test_table_and_chart(tmp_path: Path) -> None:
    runs = [{"label": "base", "summary": summarise(RESULTS)}, {"label": "tuned", "summary": summarise(RESULTS[:2])}]
    text = table(runs, 3)
    assert "base: best of 3" in text and "tuned: first draft" in text
    assert "en:haiku" in text and "en:sonnet" in text and "story:continuation" in text
    assert "base: form adherence 50% first draft -> 75% best of 3" in text
    single = table(runs[:1], 3)
    assert "first draft" in single and "base:" not in single.splitlines()[0]
    path = chart(runs, 3, tmp_path / "out" / "adherence.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
