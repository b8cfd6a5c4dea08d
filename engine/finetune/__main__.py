"""`python -m engine.finetune`: train a LoRA adapter for the engine from a JSONL file."""

from __future__ import annotations

import os

# Idle torch threads sleep instead of spinning: on a shared or busy CPU spinning threads fight each other,
# and a training step on two busy cores ran 7x slower. Set before torch loads; export ACTIVE to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import logging
import sys
from pathlib import Path

from engine.config import ConfigError
from engine.finetune.data import DataError
from engine.finetune.model import DEFAULT_TARGETS, BaseChoice, LoraShape
from engine.finetune.output import OutputExists
from engine.finetune.train import Options, run
from engine.loading import ModelLoadError

DESCRIPTION = """\
Fine-tune a LoRA adapter on chat examples (--kind sft) or preference pairs
(--kind preference, DPO), then serve it with ENGINE_ADAPTER=<out> or
ENGINE_ADAPTERS=name=<out>. On a CUDA GPU the base is loaded in 4-bit NF4
(QLoRA); on the CPU it trains plain LoRA.

The data is JSONL, one example a line, as `python -m bot.dataset export`
writes it; the format is described in engine/finetune/README.md. A sample
ships with Taleweaver: engine/finetune/sample/sft.jsonl and preference.jsonl.

Validation loss and perplexity are measured before and after; training stops
early when the validation loss stops improving, and the best weights are kept.
The output folder gets the adapter, metrics.json and a README.md model card.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m engine.finetune",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, required=True, help="JSONL file of examples")
    p.add_argument("--out", type=Path, required=True, help="folder for the adapter, e.g. adapters/house-style")
    p.add_argument("--base", help="as ENGINE_MODEL: HF id, model folder or .gguf (default: the embedded model)")
    p.add_argument("--kind", choices=["sft", "preference"], default="sft", help="default sft")
    p.add_argument("--epochs", type=float, default=3.0, help="passes over the data (default 3)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (overrides --epochs)")
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate (default 3e-4)")
    p.add_argument("--batch-size", type=int, default=4, help="examples per step (default 4)")
    p.add_argument("--max-length", type=int, default=512, help="tokens per example at most (default 512)")
    p.add_argument("--rank", type=int, default=16, help="LoRA rank (default 16)")
    p.add_argument("--alpha", type=int, default=32, help="LoRA alpha (default 32)")
    p.add_argument("--dropout", type=float, default=0.05, help="LoRA dropout (default 0.05)")
    p.add_argument("--targets", default=DEFAULT_TARGETS, help="LoRA target modules, comma-separated or all-linear")
    split = p.add_mutually_exclusive_group()
    split.add_argument("--val-split", type=float, default=0.1, help="share held out for validation (default 0.1)")
    split.add_argument("--val-data", type=Path, help="a separate JSONL file to validate with")
    p.add_argument("--eval-steps", type=int, help="validate every N steps (default: ten times a run)")
    p.add_argument("--patience", type=int, default=3, help="validations without improvement before stopping; 0=off")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the adapter's init and the order")
    p.add_argument("--beta", type=float, default=0.1, help="DPO beta, for --kind preference (default 0.1)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="default auto")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--dtype", choices=["auto", "fp32", "bf16"], default="auto", help="auto: bf16 CUDA, fp32 CPU")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def options(args: argparse.Namespace) -> Options:
    return Options(
        data=args.data,
        out=args.out,
        base=BaseChoice(args.base, args.device, args.dtype),
        kind=args.kind,
        lora=LoraShape(args.rank, args.alpha, args.dropout, args.targets),
        epochs=args.epochs,
        lr=args.lr,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        max_length=args.max_length,
        val_split=args.val_split,
        val_data=args.val_data,
        seed=args.seed,
        patience=args.patience,
        eval_steps=args.eval_steps,
        beta=args.beta,
        force=args.force,
        quiet=args.quiet,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("transformers", "accelerate", "peft", "trl", "datasets"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        report = run(options(args), progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except (DataError, OutputExists, ConfigError, ModelLoadError) as exc:
        print(f"finetune: {exc}", file=sys.stderr)
        return 2
    before, after = report.before, report.after
    line = f"validation loss {before['loss']:.4f} -> {after['loss']:.4f}"
    if "perplexity" in after:
        line += f", perplexity {before['perplexity']:.2f} -> {after['perplexity']:.2f}"
    print(f"{line}; {report.steps} steps in {report.train_seconds:.0f} s; adapter saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
