"""What a run leaves behind: the peft adapter, `metrics.json` and a model card (`README.md`).

Everything is written to a scratch folder beside the target and renamed into place at the end, so an
interrupted run never leaves a half-written adapter where the engine would load it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.finetune.train import Options


class OutputExists(FileExistsError):
    """The output folder is already there; the run refuses to overwrite it without --force."""


@dataclass(frozen=True)
class Report:
    options: Options
    base_name: str
    device: str
    quantization: str
    counts: dict[str, Any]
    before: dict[str, float]
    after: dict[str, float]
    steps: int
    best_step: int
    stopped_early: bool
    train_loss: float
    train_seconds: float
    trainable_parameters: int

    def as_dict(self) -> dict[str, Any]:
        opts = self.options
        return {
            "kind": opts.kind,
            "base_model": self.base_name,
            "base_source": opts.base.source or "embedded default",
            "device": self.device,
            "quantization": self.quantization,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {"file": str(opts.data), "val_data": str(opts.val_data) if opts.val_data else None, **self.counts},
            "hyperparameters": {
                "epochs": opts.epochs,
                "max_steps": opts.max_steps,
                "learning_rate": opts.lr,
                "batch_size": opts.batch_size,
                "max_length": opts.max_length,
                "seed": opts.seed,
                "patience": opts.patience,
                **({"beta": opts.beta} if opts.kind == "preference" else {}),
                **{f"lora_{k}": v for k, v in dataclasses.asdict(opts.lora).items()},
            },
            "validation_before": self.before,
            "validation_after": self.after,
            "steps": self.steps,
            "best_step": self.best_step,
            "stopped_early": self.stopped_early,
            "train_loss": self.train_loss,
            "train_seconds": round(self.train_seconds, 1),
            "trainable_parameters": self.trainable_parameters,
        }


def check_target(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise OutputExists(f"{out} already exists; choose another --out, or pass --force to replace it.")
    if out.exists() and not out.is_dir():
        raise OutputExists(f"{out} exists and is not a folder; it will not be replaced.")


def scratch_dir(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))


def save(model: Any, report: Report, folder: Path) -> None:
    model.save_pretrained(str(folder))
    summary = report.as_dict()
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(model_card(summary), encoding="utf-8")  # replaces peft's blank template


def publish(scratch: Path, out: Path, force: bool) -> None:
    if out.exists() and force:
        shutil.rmtree(out)
    scratch.rename(out)


def discard(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)


def model_card(s: dict[str, Any]) -> str:
    data, hp = s["data"], s["hyperparameters"]
    rows = "\n".join(
        f"| {name} | {_fmt(s['validation_before'].get(name))} | {_fmt(s['validation_after'].get(name))} |"
        for name in sorted(set(s["validation_before"]) | set(s["validation_after"]))
    )
    counts = "\n".join(f"- {k.replace('_', ' ')}: {v}" for k, v in data.items() if k not in {"file", "val_data"})
    params = "\n".join(f"- {k}: {v}" for k, v in hp.items())
    method = "DPO (trl) on preference pairs" if s["kind"] == "preference" else "supervised fine-tuning on answers"
    return f"""---
library_name: peft
base_model: {s["base_model"]}
tags: [taleweaver, lora]
---

# Taleweaver adapter ({s["kind"]})

A LoRA adapter for **{s["base_model"]}** ({s["base_source"]}), trained {s["date"]} on {s["device"]}
(base quantization: {s["quantization"]}) by `python -m engine.finetune`: {method}.

Serve it with `ENGINE_ADAPTER=<this folder>` or `ENGINE_ADAPTERS=name=<this folder>`.

## Data
- file: `{data["file"]}`{f" (validation: `{data['val_data']}`)" if data["val_data"] else ""}
{counts}

## Hyper-parameters
{params}

## Validation, before and after
| metric | before | after |
| --- | --- | --- |
{rows}

{s["steps"]} steps in {s["train_seconds"]} s; the weights kept are those of step {s["best_step"]}, the lowest
validation loss{" (stopped early: the loss stopped improving)" if s["stopped_early"] else ""}.
"""


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}"
