"""python -m bot.evaluate end to end: the real engine on the default model, a tiny prompt set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.engine_proc import ROOT, EngineProcess

TINY = Path(__file__).with_name("tiny.jsonl")


def evaluate(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.evaluate", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_bad_arguments_and_prompt_sets_are_refused_before_any_engine_starts(tmp_path: Path) -> None:
    done = evaluate("--n", "9", "--out", str(tmp_path))
    assert done.returncode == 2 and "--n must be between 1 and 8" in done.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "poem", "form": "rap battle", "topic": "x"}\n', encoding="utf-8")
    done = evaluate("--prompts", str(bad), "--out", str(tmp_path))
    assert done.returncode == 2
    assert "bad.jsonl:1: There is no form called 'rap battle'" in done.stderr
    assert not (tmp_path / "results.json").exists()


def test_help_lists_the_options() -> None:
    done = evaluate("--help")
    assert done.returncode == 0
    for option in ("--prompts", "--engine-url", "--n", "--out", "--compare", "--seed", "--max-tokens", "--per-group"):
        assert option in done.stdout


@pytest.mark.timeout(1200)
def test_a_run_against_the_real_engine(engine: EngineProcess, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    done = evaluate(
        "--prompts", str(TINY), "--engine-url", engine.url, "--n", "2", "--max-tokens", "8", "--seed", "3",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "first draft" in done.stdout and "best of 2" in done.stdout and "speaks for player" in done.stdout
    assert "evaluating" in done.stderr  # the progress bar
    result = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert result["settings"] == {"n": 2, "seed": 3, "max_tokens": 8, "limit": None, "per_group": None}
    [run] = result["runs"]
    assert run["engine"] == engine.url
    groups = run["summary"]["groups"]
    assert set(groups) == {"en:haiku", "zh:wuyan jueju", "story:continuation"}
    for name, group in groups.items():
        assert group["errors"] == 0 and group["samples"] == 2, name
        assert 0.0 <= group["distinct_1"] <= 1.0 and 0.0 <= group["distinct_2"] <= 1.0
    for name in ("en:haiku", "zh:wuyan jueju"):
        g = groups[name]
        assert g["first_pass"] in (0.0, 1.0) and g["best_pass"] >= g["first_pass"]
        assert 0.0 <= g["first_score"] <= g["best_score"] <= 1.0
    assert groups["en:haiku"]["bleu"] is not None and 0.0 <= groups["en:haiku"]["rouge_l"] <= 1.0
    story = groups["story:continuation"]
    for key in ("speaks_for_player", "first_person", "copies_earlier", "unusable"):
        assert 0.0 <= story[key] <= 1.0
    items = {item["id"]: item for item in run["items"]}
    assert len(items["haiku"]["drafts"]) == 2 and items["haiku"]["best_index"] in (0, 1)
    assert len(items["story"]["takes"]) == 2
    ppl = result["perplexity"]
    assert ppl["method"] == "in-process" and ppl["texts"] == 1
    [entry] = ppl["models"].values()
    assert entry["mean"] > 1.0
    assert (out / "adherence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "table.txt").read_text(encoding="utf-8").strip() in done.stdout
