"""Fine-tuning LoRA adapters for the engine: `python -m engine.finetune` (see README.md beside this file).

Modules: `data` (the JSONL contract, checks and the train/validation split), `model` (the base loaded as
the engine loads it, QLoRA on CUDA, LoRA on the CPU), `sft` (chat tokenization with the loss on the
answer), `dpo` (preference pairs through trl), `train` (one run, early stopping), `output` (adapter,
metrics.json, model card).

Why `transformers.Trainer` for SFT and trl's `DPOTrainer` for preferences, rather than trl's SFTTrainer or
a hand-written loop:
- A hand-written loop would redo what Trainer already does well: the progress bar, evaluation on a
  schedule, the learning-rate schedule, seeding, bf16 autocast, callbacks (early stopping hangs off one).
  trl's SFTTrainer is itself a thin layer over Trainer.
- What SFTTrainer adds is the data preparation, and there it fits worse: it truncates long examples from
  the end only ("keep_start"; "keep_end" is deprecated), which would cut away the very answer to be learnt
  from a long story prompt, whereas `sft.tokenize` drops the oldest prompt tokens instead. Its evaluation
  loss is a mean of batch means; ours is the mean over answer tokens, so the perplexity is exact.
- SFT then needs no trl, datasets, pyarrow or pandas. The GPU image has transformers and peft but not
  those, and what can be carried to it is 64 MiB: bitsandbytes (42 MB) fits, pyarrow (53 MB) on top does
  not. So the QLoRA path runs there with only bitsandbytes carried.
- DPO has no such snag and its loss is subtle to get right (the reference log-probabilities, computed
  here by switching the adapter off), so it is trl's DPOTrainer, imported only for --kind preference.
"""
