"""Supervised fine-tuning on chat examples: tokenizing with the model's own chat template, loss on the answer.

The prompt is rendered exactly as the engine renders a request (`apply_chat_template` with the generation
prompt), so the adapter learns on the text it will see when served. Labels are -100 on the prompt: only the
assistant's answer and its end-of-turn token are learned. A long example keeps its whole answer and loses
the oldest part of its prompt, because the answer is the thing being taught.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm
from transformers import Trainer

from engine.finetune.data import SftExample

IGNORE = -100


@dataclass(frozen=True)
class Tokenized:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def tokenize(example: SftExample, tokenizer: Any, max_length: int) -> Tokenized:
    """The example as token ids with the prompt masked out of the labels, at most `max_length` long."""
    prompt_text = tokenizer.apply_chat_template(example.prompt, tokenize=False, add_generation_prompt=True)
    answer = {"role": "assistant", "content": example.completion}
    full_text = tokenizer.apply_chat_template([*example.prompt, answer], tokenize=False)
    if not full_text.startswith(prompt_text):
        raise ValueError("the chat template does not render the prompt as a prefix of the conversation")
    prompt = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    completion = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    truncated = len(prompt) + len(completion) > max_length
    if truncated:
        # Keep at least a quarter of the room for the prompt's end (the instruction lives there).
        keep_prompt = max(max_length // 4, max_length - len(completion))
        prompt = prompt[len(prompt) - min(len(prompt), keep_prompt) :]
        completion = completion[: max_length - len(prompt)]
    return Tokenized(prompt + completion, [IGNORE] * len(prompt) + completion, truncated)


class SftDataset(Dataset):
    """Tokenized examples, ready for `DataCollatorForSeq2Seq` (which pads the labels with -100)."""

    def __init__(self, examples: Sequence[SftExample], tokenizer: Any, max_length: int) -> None:
        self.items = [tokenize(e, tokenizer, max_length) for e in examples]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        item = self.items[index]
        return {"input_ids": item.input_ids, "labels": item.labels, "attention_mask": [1] * len(item.input_ids)}

    @property
    def truncated(self) -> int:
        return sum(item.truncated for item in self.items)

    @property
    def answer_tokens(self) -> int:
        return sum(sum(1 for label in item.labels if label != IGNORE) for item in self.items)


class SftTrainer(Trainer):
    """`transformers.Trainer` whose evaluation is the token-weighted loss over every answer token.

    Trainer's own `evaluate` averages per-batch means, which depends on how the batches fall; the mean
    over all answer tokens does not, and its exponential is the validation perplexity.
    """

    def evaluate(
        self, eval_dataset: Any = None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        with self.compute_loss_context_manager():  # bf16 autocast on CUDA, as in training
            batches = self.get_eval_dataloader(eval_dataset)
            loss = completion_loss(self.model, batches, self.args.device, quiet=bool(self.args.disable_tqdm))
        metrics = {f"{metric_key_prefix}_loss": loss, f"{metric_key_prefix}_perplexity": perplexity(loss)}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


@torch.no_grad()
def completion_loss(model: Any, batches: Any, device: torch.device, quiet: bool = False) -> float:
    """Mean negative log-likelihood per answer token (the model's loss is a mean over unmasked labels)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in tqdm(batches, desc="validation", leave=False, disable=quiet):
        batch = {k: v.to(device) for k, v in batch.items()}
        tokens = int((batch["labels"][:, 1:] != IGNORE).sum())
        if tokens:
            total += float(model(**batch).loss) * tokens
            count += tokens
    model.train(was_training)
    return total / max(count, 1)


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 50 else math.inf
