"""One fine-tuning run: data → base + LoRA → validation before → training with early stopping → after → save."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import DataCollatorForSeq2Seq, PrinterCallback, TrainerCallback, TrainingArguments, set_seed

from engine.config import ConfigError
from engine.finetune import data, output
from engine.finetune.data import Kind, Splits
from engine.finetune.model import BaseChoice, LoraShape, add_adapter, load_base, trainable_parameters
from engine.finetune.sft import SftDataset, SftTrainer
from engine.loading import LoadedModel

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    data: Path
    out: Path
    base: BaseChoice = field(default_factory=lambda: BaseChoice(None))
    kind: Kind = "sft"
    lora: LoraShape = field(default_factory=LoraShape)
    epochs: float = 3.0
    lr: float = 3e-4
    max_steps: int | None = None
    batch_size: int = 4
    max_length: int = 512
    val_split: float = 0.1
    val_data: Path | None = None
    seed: int = 0
    patience: int = 3
    eval_steps: int | None = None
    beta: float = 0.1  # DPO's strength of the pull towards the reference model
    force: bool = False
    quiet: bool = False  # no progress bars (tests, logs)

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.val_split < 1:
            problems.append(f"--val-split must be between 0 and 1 (a share of the data), not {self.val_split}")
        if self.epochs <= 0 or self.lr <= 0 or self.batch_size < 1 or self.max_length < 16:
            problems.append("--epochs and --lr must be > 0, --batch-size >= 1 and --max-length >= 16")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("--max-steps must be at least 1")
        if self.lora.rank < 1 or self.lora.alpha < 1 or self.patience < 0 or self.beta <= 0:
            problems.append("--rank and --alpha must be >= 1, --patience >= 0 and --beta > 0")
        if problems:
            raise ConfigError("; ".join(problems) + ".")


class KeepBest(TrainerCallback):
    """Early stopping on the validation loss, keeping the best adapter weights seen (in memory: they are small).

    The first evaluation (before training) is a candidate too, so a run that only makes things worse ends
    with the adapter it started with, which changes nothing.
    """

    def __init__(self, model: Any, patience: int, min_delta: float = 1e-4) -> None:
        self.model, self.patience, self.min_delta = model, patience, min_delta
        self.best_loss, self.best_step, self.last_step, self.bad = math.inf, 0, -1, 0
        self.stopped_early = False
        self.best_state: dict[str, Any] = {}
        self.best_metrics: dict[str, float] = {}

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **_: Any
    ) -> Any:
        loss = (metrics or {}).get("eval_loss")
        if loss is None:
            return control
        self.last_step = state.global_step
        if loss < self.best_loss - self.min_delta:
            from peft import get_peft_model_state_dict

            self.best_loss, self.best_step, self.bad = loss, state.global_step, 0
            self.best_metrics = dict(metrics or {})
            weights = get_peft_model_state_dict(self.model)
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in weights.items()}
        else:
            self.bad += 1
            if self.patience and self.bad >= self.patience:
                self.stopped_early = control.should_training_stop = True
        return control

    def restore(self) -> None:
        from peft import set_peft_model_state_dict

        if self.best_state:
            set_peft_model_state_dict(self.model, self.best_state)


def training_arguments(
    opts: Options,
    device: str,
    train_size: int,
    scratch: Path,
    cls: type = TrainingArguments,
    group_by_length: bool = True,
    **extra: Any,
) -> Any:
    """Trainer settings shared by SFT and DPO (`cls` is TrainingArguments or trl's DPOConfig)."""
    steps_per_epoch = math.ceil(train_size / opts.batch_size)
    total = opts.max_steps or math.ceil(opts.epochs * steps_per_epoch)
    eval_steps = opts.eval_steps or max(1, math.ceil(total / 10))
    wanted: dict[str, Any] = dict(
        output_dir=str(scratch),
        per_device_train_batch_size=opts.batch_size,
        per_device_eval_batch_size=opts.batch_size,
        learning_rate=opts.lr,
        num_train_epochs=opts.epochs,
        max_steps=opts.max_steps or -1,
        warmup_steps=max(0, round(total * 0.05)),
        lr_scheduler_type="linear",
        eval_strategy="steps",
        eval_steps=eval_steps,
        logging_steps=max(1, min(eval_steps, 10)),
        save_strategy="no",  # KeepBest holds the best weights; checkpoints would only cost disk and time
        report_to="none",
        seed=opts.seed,
        data_seed=opts.seed,
        use_cpu=device == "cpu",
        bf16=device == "cuda",
        disable_tqdm=opts.quiet,
        remove_unused_columns=False,
        dataloader_pin_memory=device == "cuda",
        **extra,
    )
    if group_by_length:  # batches of similar lengths waste less on padding (needs items with input_ids)
        wanted.update(train_sampling_strategy="group_by_length", group_by_length=True)
    return cls(**_supported(cls, wanted))


def _supported(cls: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    """The arguments this transformers version knows (5.17 on the GPU image, newer here): `group_by_length`
    became `train_sampling_strategy="group_by_length"`."""
    known = {f.name for f in dataclasses.fields(cls)}
    if "train_sampling_strategy" in known:
        wanted.pop("group_by_length", None)
    return {k: v for k, v in wanted.items() if k in known}


def run(opts: Options, progress: Progress = print) -> output.Report:
    """Train, evaluate before and after, and save the adapter with its card. Returns what was measured."""
    output.check_target(opts.out, opts.force)
    examples = data.load(opts.data, opts.kind)
    extra = data.load(opts.val_data, opts.kind) if opts.val_data else None
    splits = data.split(examples, opts.val_split, opts.seed, extra)
    progress(f"{len(splits.train)} examples to train on, {len(splits.validation)} to validate with")
    set_seed(opts.seed)
    loaded = load_base(opts.base, progress)
    model = add_adapter(loaded, opts.lora)
    trainable, total = trainable_parameters(model)
    progress(f"LoRA rank {opts.lora.rank}: {trainable:,} trainable parameters of {total:,} ({loaded.device})")
    scratch = output.scratch_dir(opts.out)
    try:
        trainer, counts = _trainer(opts, model, loaded, splits, scratch)
        keeper = KeepBest(model, opts.patience)
        trainer.add_callback(keeper)
        if opts.quiet:
            trainer.remove_callback(PrinterCallback)  # what Trainer prints in place of the progress bar
        progress("measuring the validation loss before training")
        before = trainer.evaluate()
        started = time.monotonic()
        result = trainer.train()
        wall = time.monotonic() - started
        if trainer.state.global_step != keeper.last_step:
            trainer.evaluate()  # the last steps since the last evaluation are a candidate too
        keeper.restore()
        # Evaluation is deterministic, so the restored weights score what they scored when they were kept.
        after = keeper.best_metrics
        report = output.Report(
            options=opts,
            base_name=loaded.name,
            device=loaded.device,
            quantization=loaded.quantization,
            counts={**counts, "validation_source": splits.source},
            before=_numbers(before),
            after=_numbers(after),
            steps=trainer.state.global_step,
            best_step=keeper.best_step,
            stopped_early=keeper.stopped_early,
            train_loss=float(result.training_loss),
            train_seconds=wall,
            trainable_parameters=trainable,
        )
        output.save(model, report, scratch)
        output.publish(scratch, opts.out, opts.force)
    finally:
        output.discard(scratch)
    return report


def _trainer(opts: Options, model: Any, loaded: LoadedModel, splits: Splits, scratch: Path) -> tuple[Any, dict]:
    if opts.kind == "preference":
        from engine.finetune.dpo import dpo_trainer

        return dpo_trainer(opts, model, loaded, splits, scratch)
    tokenizer = loaded.tokenizer
    args = training_arguments(opts, loaded.device, len(splits.train), scratch)
    train = SftDataset(splits.train, tokenizer, opts.max_length)
    validation = SftDataset(splits.validation, tokenizer, opts.max_length)
    counts = {
        "train_examples": len(train),
        "validation_examples": len(validation),
        "train_answer_tokens": train.answer_tokens,
        "validation_answer_tokens": validation.answer_tokens,
        "truncated_examples": train.truncated + validation.truncated,
    }
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    trainer = SftTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=collator,
        processing_class=tokenizer,
    )
    return trainer, counts


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    timings = ("_runtime", "_per_second", "epoch")
    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not k.endswith(timings)}
    return {k.removeprefix("eval_"): v for k, v in numbers.items()}
