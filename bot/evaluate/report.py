"""Summing up an evaluation: per group (a form, or a kind of narration) and overall; tables and a chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.evaluate import metrics
from bot.evaluate.narration import COPY_RUN
from bot.evaluate.runner import ItemResult, PoemResult, StoryResult


def summarise(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Per-group figures and the overall ones. Rates are 0..1; BLEU figures 0..100; None where not measurable."""
    groups: dict[str, list[ItemResult]] = {}
    for result in results:
        groups.setdefault(result.group, []).append(result)
    summary = {name: _group(members) for name, members in groups.items()}
    return {"groups": summary, "overall": _overall(results, summary)}


def _group(members: list[ItemResult]) -> dict[str, Any]:
    done = [r for r in members if not r.error]
    texts = [t for r in done for t in (r.drafts if isinstance(r, PoemResult) else r.takes)]
    figures: dict[str, Any] = {
        "prompts": len(members),
        "errors": len(members) - len(done),
        "samples": len(texts),
        "distinct_1": metrics.distinct_n(texts, 1),
        "distinct_2": metrics.distinct_n(texts, 2),
        "repetition": metrics.mean([metrics.repetition_rate(t) for t in texts]),
        "self_bleu": metrics.mean(
            [metrics.self_bleu(r.drafts if isinstance(r, PoemResult) else r.takes) for r in done]
        ),
    }
    firsts = [(r.drafts if isinstance(r, PoemResult) else r.takes)[:1] for r in done]
    with_refs = [(f[0], r.references) for f, r in zip(firsts, done, strict=True) if f and r.references]
    figures["bleu"] = metrics.bleu([h for h, _ in with_refs], [refs for _, refs in with_refs]) if with_refs else None
    figures["rouge_l"] = (
        metrics.rouge_l([h for h, _ in with_refs], [refs for _, refs in with_refs]) if with_refs else None
    )
    poems = [r for r in done if isinstance(r, PoemResult)]
    stories = [r for r in done if isinstance(r, StoryResult)]
    if poems:
        figures.update(kind="poem", language=poems[0].language, **_adherence(poems))
    elif stories:
        figures.update(kind="story", **_narration(stories))
    else:
        figures.update(kind="poem" if isinstance(members[0], PoemResult) else "story")
    return figures


def _adherence(poems: list[PoemResult]) -> dict[str, Any]:
    return {
        "first_pass": metrics.mean([float(r.passed[0]) for r in poems]),
        "best_pass": metrics.mean([float(r.passed[r.best_index]) for r in poems]),
        "first_score": metrics.mean([r.scores[0] for r in poems]),
        "best_score": metrics.mean([r.scores[r.best_index] for r in poems]),
        "truncated": metrics.mean([float(cut) for r in poems for cut in r.truncated]),
    }


def _narration(stories: list[StoryResult]) -> dict[str, Any]:
    def rate(field: str) -> float | None:
        return metrics.mean([float(v) for r in stories for v in getattr(r, field)])

    runs = [run for r in stories for run in r.copied_run]
    return {
        "speaks_for_player": rate("speaks_for_player"),
        "first_person": rate("first_person"),
        "copies_earlier": metrics.mean([float(run >= COPY_RUN) for run in runs]),
        "longest_copy_mean": metrics.mean([float(run) for run in runs]),
        "unusable": rate("unusable"),
        "truncated": rate("truncated"),
    }


def _overall(results: Sequence[ItemResult], groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
    poem_groups = [g for g in groups.values() if g["kind"] == "poem" and g.get("first_pass") is not None]
    story_groups = [g for g in groups.values() if g["kind"] == "story" and g.get("unusable") is not None]
    done = [r for r in results if not r.error]
    texts = [t for r in done for t in (r.drafts if isinstance(r, PoemResult) else r.takes)]
    overall: dict[str, Any] = {
        "prompts": len(results),
        "errors": len(results) - len(done),
        "distinct_1": metrics.distinct_n(texts, 1),
        "distinct_2": metrics.distinct_n(texts, 2),
        # macro averages: each form counts once, however many prompts it has
        "first_pass": metrics.mean([g["first_pass"] for g in poem_groups]),
        "best_pass": metrics.mean([g["best_pass"] for g in poem_groups]),
        "first_score": metrics.mean([g["first_score"] for g in poem_groups]),
        "best_score": metrics.mean([g["best_score"] for g in poem_groups]),
    }
    stories = [r for r in done if isinstance(r, StoryResult)]
    if stories:
        overall.update({f"narration_{k}": v for k, v in _narration(stories).items()})
    overall["story_groups"] = len(story_groups)
    return overall


# --- rendering -----------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


_POEM_COLUMNS = (
    ("first draft", "first_pass", "pct"),
    ("best of {n}", "best_pass", "pct"),
    ("first score", "first_score", "num"),
    ("best score", "best_score", "num"),
    ("distinct-2", "distinct_2", "num"),
    ("cut at limit", "truncated", "pct"),
    ("errors", "errors", "int"),
)
_STORY_COLUMNS = (
    ("speaks for player", "speaks_for_player", "pct"),
    ("first person", "first_person", "pct"),
    ("copies earlier", "copies_earlier", "pct"),
    ("unusable", "unusable", "pct"),
    ("distinct-2", "distinct_2", "num"),
    ("cut at limit", "truncated", "pct"),
    ("errors", "errors", "int"),
)


def _cell(group: dict[str, Any] | None, key: str, style: str) -> str:
    value = (group or {}).get(key)
    if style == "pct":
        return _pct(value)
    return _num(value) if style == "num" else ("-" if value is None else str(value))


def table(runs: Sequence[dict[str, Any]], n: int) -> str:
    """The terminal report: form adherence (first draft vs best of n) and narration, a column set per run."""
    prefix = [f"{run['label']}: " if len(runs) > 1 else "" for run in runs]
    names = list(dict.fromkeys(name for run in runs for name in run["summary"]["groups"]))
    out = []
    for first, columns, kind in (("form", _POEM_COLUMNS, "poem"), ("narration", _STORY_COLUMNS, "story")):
        rows = []
        for name in names:
            cells = [run["summary"]["groups"].get(name) for run in runs]
            if next(c["kind"] for c in cells if c) != kind:
                continue
            row = [name, str(max(c["prompts"] for c in cells if c))]
            for cell in cells:
                row += [_cell(cell, key, style) for _, key, style in columns]
            rows.append(row)
        if rows:
            head = [first, "prompts"] + [p + title.format(n=n) for p in prefix for title, _, _ in columns]
            out.append(_grid(head, rows))
    for run in runs:
        o = run["summary"]["overall"]
        out.append(
            f"{run['label']}: form adherence {_pct(o['first_pass'])} first draft -> {_pct(o['best_pass'])} best of {n} "
            f"(mean over forms); distinct-2 {_num(o['distinct_2'])}; errors {o['errors']}/{o['prompts']}"
        )
    return "\n\n".join(out)


def chart(runs: Sequence[dict[str, Any]], n: int, path: Path) -> Path:
    """A PNG: per form, the share of poems that pass (top) and the mean form score (bottom), first draft vs
    best of n. The score shows progress a small model makes long before its poems pass outright."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    forms = list(dict.fromkeys(k for run in runs for k, g in run["summary"]["groups"].items() if g["kind"] == "poem"))
    fig, axes = plt.subplots(2, 1, figsize=(max(6.5, 0.75 * len(forms) + 2.5), 7.0), dpi=110, sharex=True)
    width = 0.8 / max(2 * len(runs), 1)
    panels = ((axes[0], "pass", 100.0, "poems that pass (%)"), (axes[1], "score", 1.0, "mean form score (0-1)"))
    for ax, field, scale, ylabel in panels:
        for r, run in enumerate(runs):
            groups = run["summary"]["groups"]
            for k, (which, what) in enumerate((("first", "first draft"), ("best", f"best of {n}"))):
                values = [scale * ((groups.get(f) or {}).get(f"{which}_{field}") or 0.0) for f in forms]
                offsets = [i - 0.4 + width * (2 * r + k + 0.5) for i in range(len(forms))]
                label = f"{run['label']}: {what}" if len(runs) > 1 else what
                ax.bar(offsets, values, width, label=label, hatch="//" if k == 0 else None, alpha=0.85)
        ax.set_ylim(0, scale)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
    ticks = [f.split(":", 1)[-1] + (" (zh)" if f.startswith("zh:") else "") for f in forms]
    axes[1].set_xticks(range(len(forms)), ticks, rotation=30, ha="right")
    axes[0].set_title(f"Form adherence by form: first draft vs best of {n}")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
