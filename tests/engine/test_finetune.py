"""`python -m engine.finetune`: the data contract, a real LoRA fine-tune and DPO run on the default model,
the adapter served by the real engine, and QLoRA on CUDA (skipped, and reported as skipped, without one).

The runs are short (a few steps, short sequences, the sample's short poems) so they fit a busy 2-core box;
what they assert is relative: the validation loss after training is below the loss before it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.finetune import data, output
from engine.finetune.__main__ import main
from engine.finetune.data import DataError
from engine.finetune.sft import IGNORE, tokenize
from tests.engine.helpers import health, post
from tests.support.engine_proc import ROOT

SAMPLE = ROOT / "engine" / "finetune" / "sample"
SHORT_FORMS = {"haiku", "tanka", "limerick"}
SYSTEM = {"role": "system", "content": "You are a gifted poet."}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def sample_rows(name: str, keep: Any = lambda row: True) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (SAMPLE / name).read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if keep(row)]


def short_poems(row: dict[str, Any]) -> bool:
    return row["meta"].get("feature") == "poem" and row["meta"].get("form") in SHORT_FORMS


def finetune(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process (as a user runs it; it also sets OMP_WAIT_POLICY first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    command = [sys.executable, "-m", "engine.finetune", "--quiet", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def sft(content: str = "A haiku about rain.", answer: str = "Rain on the roof.", **extra: Any) -> dict[str, Any]:
    messages = [SYSTEM, {"role": "user", "content": content}, {"role": "assistant", "content": answer}]
    return {"messages": messages, **extra}


# --- the data contract -------------------------------------------------------------------------------


def test_the_shipped_sample_follows_the_contract() -> None:
    sft_examples = data.load(SAMPLE / "sft.jsonl", "sft")
    pairs = data.load(SAMPLE / "preference.jsonl", "preference")
    assert 60 <= len(sft_examples) <= 150 and 25 <= len(pairs) <= 40
    features = {row["meta"]["feature"] for row in sample_rows("sft.jsonl")}
    assert features == {"poem", "narration"}
    splits = data.split(sft_examples, 0.1, seed=0)
    assert splits.source == 'the "split" field' and len(splits.validation) == 10
    assert "CC0" in (SAMPLE / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("lines", "kind", "expected"),
    [
        ([], "sft", "holds no examples"),
        (["", "   "], "sft", "holds no examples"),
        ([sft(), '{"messages": [oops]}'], "sft", ":2: not valid JSON"),
        ([sft(), sft(), "[1, 2]"], "sft", ":3: expected a JSON object"),
        ([{"messages": [{"role": "narrator", "content": "x"}]}], "sft", '"role" must be one of'),
        ([{"messages": [SYSTEM, {"role": "user", "content": "hi"}]}], "sft", "must be the assistant's answer"),
        ([sft(answer="   ")], "sft", '"content" is empty'),
        ([{"messages": [SYSTEM, {"role": "user", "content": 5}]}], "sft", '"content" must be a string'),
        ([sft(split="test")], "sft", '"split" must be "train" or "validation"'),
        ([{"prompt": [], "chosen": [], "rejected": []}], "sft", "use --kind preference"),
        ([sft()], "preference", "use --kind sft"),
        (
            [{"prompt": [SYSTEM], "chosen": [{"role": "assistant", "content": "a"}], "rejected": "b"}],
            "preference",
            '"rejected" must be a non-empty list',
        ),
        (
            [
                {
                    "prompt": [{"role": "user", "content": "q"}],
                    "chosen": [{"role": "assistant", "content": "same"}],
                    "rejected": [{"role": "assistant", "content": "same"}],
                }
            ],
            "preference",
            "nothing to prefer",
        ),
    ],
)
def test_bad_data_gets_a_specific_error(tmp_path: Path, lines: list[Any], kind: str, expected: str) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", lines)
    with pytest.raises(DataError, match=r"data\.jsonl") as caught:
        data.load(path, kind)  # type: ignore[arg-type]
    assert expected in str(caught.value)


def test_too_little_data_for_a_validation_split(tmp_path: Path) -> None:
    examples = data.load(write_jsonl(tmp_path / "d.jsonl", [sft(f"topic {i}") for i in range(5)]), "sft")
    with pytest.raises(DataError, match="Too little data for a validation split"):
        data.split(examples, 0.1, seed=0)


def test_the_split_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    examples = data.load(write_jsonl(tmp_path / "d.jsonl", [sft(f"topic {i}") for i in range(40)]), "sft")
    first, again, other = (data.split(examples, 0.25, seed=s) for s in (7, 7, 8))
    assert first.validation == again.validation and len(first.validation) == 10
    assert first.validation != other.validation
    assert not set(map(id, first.train)) & set(map(id, first.validation))


def test_the_command_line_reports_bad_data_and_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.jsonl"
    assert main(["--data", str(missing), "--out", str(tmp_path / "a")]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", [sft(), "{not json"])
    assert main(["--data", str(bad), "--out", str(tmp_path / "a")]) == 2
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    assert main(["--data", str(bad), "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert "taken already exists" in err and "--force" in err
    assert main(["--data", str(bad), "--out", str(tmp_path / "b"), "--val-split", "1.5"]) == 2
    assert "--val-split must be between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_force_replaces_an_existing_output_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    out.mkdir()
    (out / "stale.bin").write_text("old")
    with pytest.raises(output.OutputExists):
        output.check_target(out, force=False)
    output.check_target(out, force=True)
    scratch = output.scratch_dir(out)
    (scratch / "adapter_config.json").write_text("{}")
    output.publish(scratch, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


def test_only_the_answer_is_learnt_and_a_long_prompt_loses_its_oldest_tokens(tokenizer) -> None:
    example = data.parse(sft("Write a haiku about the sea.", "Salt wind on the glass."), "sft")
    assert isinstance(example, data.SftExample)
    whole = tokenize(example, tokenizer, 4096)
    answer = tokenizer.decode([t for t, label in zip(whole.input_ids, whole.labels, strict=True) if label != IGNORE])
    assert answer.startswith("Salt wind on the glass.") and tokenizer.eos_token in answer
    assert not whole.truncated and whole.labels[0] == IGNORE
    long = data.parse(sft("background " * 400 + "Write a haiku about the sea.", "Salt wind on the glass."), "sft")
    assert isinstance(long, data.SftExample)
    cut = tokenize(long, tokenizer, 64)
    assert cut.truncated and len(cut.input_ids) == 64
    assert [t for t in cut.labels if t != IGNORE] == [t for t in whole.labels if t != IGNORE]


def test_early_stopping_keeps_the_best_weights_and_stops_after_patience() -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import TrainerControl, TrainerState

    from engine.finetune.train import KeepBest

    model = get_peft_model(torch.nn.Sequential(torch.nn.Linear(4, 4)), LoraConfig(r=2, target_modules=["0"]))
    lora_b = model.base_model.model[0].lora_B["default"].weight
    keeper, state, control = KeepBest(model, patience=2), TrainerState(), TrainerControl()
    for step, loss in enumerate([3.0, 2.5, 2.6, 2.7]):
        state.global_step = step
        with torch.no_grad():
            lora_b.fill_(float(step))  # stands in for what training did by this step
        keeper.on_evaluate(None, state, control, metrics={"eval_loss": loss})
        assert control.should_training_stop == (step == 3)
    assert (keeper.best_step, keeper.best_loss, keeper.stopped_early) == (1, 2.5, True)
    keeper.restore()
    assert torch.all(lora_b == 1.0)


# --- real runs on the default model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short LoRA fine-tune on the sample's haiku, tanka and limericks (its own validation records)."""
    folder = tmp_path_factory.mktemp("finetune")
    train = write_jsonl(folder / "poems.jsonl", sample_rows("sft.jsonl", short_poems))
    out = folder / "adapters" / "poems"
    done = finetune(
        *("--data", train, "--out", out, "--max-steps", "4", "--eval-steps", "4", "--batch-size", "2"),
        *("--max-length", "128", "--rank", "8", "--alpha", "16", "--lr", "2e-3", "--seed", "1"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "validation loss" in done.stdout
    return out


def test_a_short_fine_tune_lowers_the_validation_loss(sft_run: Path) -> None:
    metrics = json.loads((sft_run / "metrics.json").read_text())
    before, after = metrics["validation_before"], metrics["validation_after"]
    assert before["loss"] - after["loss"] > 0.1, metrics
    assert after["perplexity"] < before["perplexity"]
    assert math.isclose(after["perplexity"], math.exp(after["loss"]), rel_tol=1e-6)
    assert metrics["steps"] == 4 and metrics["best_step"] == 4
    assert metrics["data"]["train_examples"] > metrics["data"]["validation_examples"] >= 2
    assert metrics["hyperparameters"]["lora_rank"] == 8 and metrics["device"] == "cpu"
    card = (sft_run / "README.md").read_text()
    assert "SmolLM2-135M-Instruct" in card and f"{after['loss']:.4g}" in card and f"{before['loss']:.4g}" in card
    assert not [p for p in sft_run.parent.iterdir() if p.name.startswith(".")]  # no scratch folder left behind


def test_the_saved_adapter_holds_the_trained_weights(sft_run: Path) -> None:
    """Loaded from disk onto the base, it reproduces the validation loss the run reported afterwards."""
    import torch
    from peft import PeftModel
    from transformers import DataCollatorForSeq2Seq

    from engine.config import EngineConfig
    from engine.finetune.sft import SftDataset, completion_loss
    from engine.loading import load_model

    metrics = json.loads((sft_run / "metrics.json").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test process's threads spin; one thread is the fastest on a busy box
    try:
        loaded = load_model(EngineConfig(device="cpu", dtype="fp32"))
        model = PeftModel.from_pretrained(loaded.model, str(sft_run))
        validation = data.split(data.load(Path(metrics["data"]["file"]), "sft"), 0.1, seed=1).validation
        dataset = SftDataset(validation, loaded.tokenizer, 128)
        collate = DataCollatorForSeq2Seq(loaded.tokenizer, padding=True, label_pad_token_id=IGNORE)
        batches = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate)
        loss = completion_loss(model, batches, torch.device("cpu"), quiet=True)
    finally:
        torch.set_num_threads(threads)
    assert math.isclose(loss, metrics["validation_after"]["loss"], rel_tol=1e-3)
    assert loss < metrics["validation_before"]["loss"]


async def test_the_engine_serves_the_adapter(engine_factory, sft_run: Path, http) -> None:
    served = engine_factory(adapter=sft_run)
    assert "applying LoRA adapter" in served.log()
    assert (await health(http, served))["status"] == "ready"
    messages = [SYSTEM, {"role": "user", "content": 'Write a haiku about "the harbour".'}]
    reply = await post(http, served, {"model": "default", "messages": messages, "max_tokens": 24, "seed": 1})
    assert reply.status == 200, reply.text
    choice = reply.json()["choices"][0]
    assert choice["message"]["content"].strip() and choice["finish_reason"] in {"stop", "length"}


def test_a_dpo_run_on_preference_pairs_writes_an_adapter(tmp_path: Path) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", sample_rows("preference.jsonl", short_poems))
    out = tmp_path / "dpo"
    done = finetune(
        *("--kind", "preference", "--data", pairs, "--out", out, "--max-steps", "2", "--eval-steps", "2"),
        *("--batch-size", "2", "--max-length", "160", "--rank", "4", "--lr", "1e-3"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "preference" and metrics["steps"] == 2
    # Before training the policy is the reference (the adapter starts as a no-op), so DPO's loss is ln 2.
    assert math.isclose(metrics["validation_before"]["loss"], math.log(2), abs_tol=1e-3)
    assert "rewards/accuracies" in metrics["validation_after"]
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    assert "DPO" in (out / "README.md").read_text()


# --- CUDA ----------------------------------------------------------------------------------------------


@pytest.mark.cuda
def test_qlora_on_cuda_trains_a_4bit_base(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("bitsandbytes")
    train = write_jsonl(tmp_path / "poems.jsonl", sample_rows("sft.jsonl", short_poems))
    out = tmp_path / "qlora"
    done = finetune("--data", train, "--out", out, "--max-steps", "20", "--eval-steps", "10", "--lr", "2e-3")
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["device"], metrics["quantization"]) == ("cuda", "nf4")
    assert metrics["validation_after"]["loss"] < metrics["validation_before"]["loss"]
    assert (out / "adapter_config.json").is_file()
