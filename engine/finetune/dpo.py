"""Preference tuning with trl's DPOTrainer: the adapter learns to prefer the chosen answer to the rejected one.

The reference model DPO measures against is the base itself: with a peft model and no `ref_model`, trl
computes the reference log-probabilities with the adapter switched off, so no second copy is loaded.
trl truncates a pair longer than --max-length from the end ("keep_start"), unlike the SFT path, which
keeps the answer; keep --max-length above the longest prompt and answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.finetune.data import PreferencePair, Splits
from engine.loading import LoadedModel

if TYPE_CHECKING:
    from engine.finetune.train import Options


def records(pairs: list[PreferencePair]) -> list[dict[str, Any]]:
    """trl's conversational preference layout, exactly as the data file has it (less "split" and "meta")."""
    return [
        {
            "prompt": pair.prompt,
            "chosen": [{"role": "assistant", "content": pair.chosen}],
            "rejected": [{"role": "assistant", "content": pair.rejected}],
        }
        for pair in pairs
    ]


def dpo_trainer(opts: Options, model: Any, loaded: LoadedModel, splits: Splits, scratch: Path) -> tuple[Any, dict]:
    from datasets import Dataset
    from trl.trainer.dpo_config import DPOConfig
    from trl.trainer.dpo_trainer import DPOTrainer

    from engine.finetune.train import training_arguments

    args = training_arguments(
        opts,
        loaded.device,
        len(splits.train),
        scratch,
        cls=DPOConfig,
        group_by_length=False,  # trl's items hold prompt/chosen/rejected ids, which Trainer cannot measure
        beta=opts.beta,
        max_length=opts.max_length,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=Dataset.from_list(records(splits.train)),
        eval_dataset=Dataset.from_list(records(splits.validation)),
        processing_class=loaded.tokenizer,
    )
    counts = {"train_pairs": len(splits.train), "validation_pairs": len(splits.validation)}
    return trainer, counts
