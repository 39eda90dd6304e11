"""Preference objectives on TRL with tiny offline models: DPO, ORPO and KTO move the policy, a reward model ranks.

Every claim is measured from the model by the test (log-probabilities and
scores it computes itself), never read from the trainer's logs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from factory_peft.export import load_trained
from factory_peft.options import PeftOptions
from factory_peft.run import prepare_run
from factory_peft.testing import PAIRS, job_for, reply_logprob, reward_pairs, write_jsonl

REPO = Path(__file__).resolve().parents[3]


def margins(run, pairs: list[dict]) -> list[float]:
    """log p(chosen | prompt) - log p(rejected | prompt) for each pair, in the format the run trained with."""
    tokenizer, template = run.tokenizer, run.format.prompt_template
    model = run.model.eval()
    out = []
    for pair in pairs:
        prompt_ids = tokenizer(template.render(pair["prompt"]))["input_ids"]

        def reply(text: str) -> list[int]:
            full = tokenizer(template.render(pair["prompt"]) + template.response_prefix + text)["input_ids"]
            return full[len(prompt_ids):] + [tokenizer.eos_token_id]

        out.append(reply_logprob(model, tokenizer, prompt_ids, reply(pair["chosen"]))
                   - reply_logprob(model, tokenizer, prompt_ids, reply(pair["rejected"])))
    return out


@pytest.mark.parametrize("objective", ["dpo", "orpo", "kto"])
def test_preference_objectives_raise_the_policy_margin_of_chosen_over_rejected(objective, llama_dir, pairs_file,
                                                                               tmp_path):
    events: list[dict] = []
    run = prepare_run(job_for(llama_dir, pairs_file, tmp_path / "out", events, objective=objective,
                              learning_rate=1e-2, max_steps=12, logging_steps=2))
    with run.model.disable_adapter():  # the base model: what the policy started from
        before = margins(run, PAIRS)
    result = run.execute()
    after = margins(run, PAIRS)
    assert all(a > b for a, b in zip(after, before)), (before, after)  # every training prompt
    assert sum(after) - sum(before) > 2.0
    if objective in ("dpo", "kto"):
        # LoRA: the reference is the base with the adapter disabled, not a second copy of the model
        assert run.trainer.ref_model is None and result.metrics["reference_model"] == "the base model with the adapter disabled"
    moved = result.metrics["objective_metrics"]
    assert moved["rewards/margins"]["last"] > moved["rewards/margins"]["first"]
    assert moved["loss"]["first_step"] == 2 and moved["loss"]["last_step"] == 12
    steps = [e for e in events if e["event"] == "step"]
    assert all("rewards/margins" in e for e in steps if objective != "kto")  # progress shows the objective working
    assert "rewards/chosen" in json.loads((tmp_path / "out" / "metrics.json").read_text())["objective_metrics"]


def test_a_reward_model_ranks_chosen_above_rejected_on_held_out_pairs(llama_dir, tmp_path):
    train, held_out = reward_pairs()
    data = write_jsonl(tmp_path / "pairs.jsonl", train)
    run = prepare_run(job_for(llama_dir, data, tmp_path / "out", objective="reward", target_modules="all-linear",
                              learning_rate=1e-2, max_steps=30, batch_size=4, micro_batch_size=4, max_length=128,
                              logging_steps=5))
    tokenizer, template = run.tokenizer, run.format.prompt_template

    def accuracy(model) -> float:
        model.eval()
        wins = 0
        for pair in held_out:
            scores = []
            for reply in (pair["chosen"], pair["rejected"]):
                ids = torch.tensor([tokenizer(template.render(pair["prompt"]) + reply + tokenizer.eos_token)["input_ids"]])
                with torch.no_grad():
                    scores.append(float(model(input_ids=ids).logits[0, 0]))
            wins += scores[0] > scores[1]
        return wins / len(held_out)

    untrained = accuracy(run.model)
    result = run.execute()
    trained = accuracy(run.model)
    # 28 held-out pairs: 23 or more right has a probability of 0.0005 under chance
    assert trained >= 0.8 > untrained + 0.2, (untrained, trained)
    assert result.metrics["objective_metrics"]["accuracy"]["last"] > 0.5
    reloaded, _ = load_trained(tmp_path / "out" / "model")  # a one-output classifier: the score head came along
    assert type(reloaded).__name__ == "PeftModelForSequenceClassification" and accuracy(reloaded) == trained


def test_qlora_dpo_runs_on_cpu_with_bitsandbytes(neox_dir, pairs_file, tmp_path):
    run = prepare_run(job_for(neox_dir, pairs_file, tmp_path / "out", objective="dpo", method="qlora",
                              target_modules=["query_key_value"], learning_rate=2e-2, max_steps=8))
    quantized = [m for m in run.model.modules() if type(m).__name__ == "Linear4bit"]
    assert quantized and all(m.weight.dtype == torch.uint8 and m.weight.quant_type == "nf4" for m in quantized)
    result = run.execute()
    moved = result.metrics["objective_metrics"]
    assert result.metrics["bitsandbytes"] and result.metrics["compute_dtype"] == "float32"
    assert moved["loss"]["last"] < moved["loss"]["first"] and moved["rewards/margins"]["last"] > 0
    assert run.trainer.ref_model is None and result.metrics["adapter_tensors"] == 4


def test_ko_dpo_recipe_trains_from_the_cli_on_a_preference_jsonl(neox_dir, pairs_file, tmp_path, capsys):
    from factory.cli import main

    main(["train", str(REPO / "recipes" / "ko-dpo.yaml"), "--data", str(pairs_file), "--set",
          f"train.base_model={neox_dir}", "--set", "train.max_steps=4", "--set", "train.learning_rate=0.01",
          "--set", "train.batch_size=4", "--set", "train.micro_batch_size=2", "--set", "train.logging_steps=1",
          "--set", "train.eval_size=0", "--out", str(tmp_path / "run"), "--quiet"])
    metrics = json.loads((tmp_path / "run" / "train_metrics.json").read_text())
    assert (metrics["objective"], metrics["template"], metrics["global_step"]) == ("dpo", "koalpaca", 4)
    assert metrics["train_examples"] == 4 and metrics["method"] == "lora"
    moved = metrics["objective_metrics"]
    assert {"loss", "rewards/margins", "rewards/accuracies"} <= set(moved)
    assert moved["rewards/margins"]["first_step"] == 1 and moved["rewards/margins"]["last_step"] == 4
    card = (tmp_path / "run" / "train" / "model" / "README.md").read_text()
    assert "direct preference optimisation" in card and "### 질문: {instruction}\n\n### 답변:" in card


def test_kto_reads_labelled_replies_and_splits_pairs(llama_dir, tmp_path):
    labelled = [{"prompt": p["prompt"], "completion": p[key], "label": key == "chosen"} for p in PAIRS
                for key in ("chosen", "rejected")]
    data = write_jsonl(tmp_path / "kto.jsonl", labelled)
    job = job_for(llama_dir, data, tmp_path / "out", objective="kto", max_steps=1)
    job.options = PeftOptions.model_validate(job.options)  # the core may pass the validated options instance
    run = prepare_run(job)
    rows = run.trainer.train_dataset
    assert len(rows) == 8 and sorted(rows["label"]) == [False] * 4 + [True] * 4
    from_pairs = prepare_run(job_for(llama_dir, write_jsonl(tmp_path / "p.jsonl", PAIRS), tmp_path / "o2",
                                     objective="kto", max_steps=1)).trainer.train_dataset
    assert from_pairs["completion_ids"] == rows["completion_ids"] and from_pairs["label"] == rows["label"]


def test_full_dpo_keeps_a_frozen_reference_copy_or_precomputes_it_with_the_same_result(llama_dir, pairs_file, tmp_path):
    runs, losses = {}, {}
    for name, extra in (("copy", {}), ("precomputed", {"precompute_reference": True})):
        events: list[dict] = []
        run = prepare_run(job_for(llama_dir, pairs_file, tmp_path / name, events, objective="dpo", method="full",
                                  learning_rate=1e-3, max_steps=4, logging_steps=1, **extra))
        runs[name], result = run, run.execute()
        losses[name] = [e["loss"] for e in events if e["event"] == "step"]
        assert result.metrics["reference_model"] == {"copy": "a frozen copy of the base model",
                                                     "precomputed": "precomputed before training"}[name]
    reference = runs["copy"].trainer.ref_model
    assert reference is not None and reference is not runs["copy"].model
    assert not any(p.requires_grad for p in reference.parameters())  # frozen
    # the copy has the run's PAD row, so both reference paths score the same pairs alike
    assert reference.get_input_embeddings().weight.shape == runs["copy"].model.get_input_embeddings().weight.shape
    assert losses["copy"] == pytest.approx(losses["precomputed"], rel=1e-4)


def test_sft_on_preference_pairs_learns_the_chosen_replies(llama_dir, pairs_file, tmp_path):
    run = prepare_run(job_for(llama_dir, pairs_file, tmp_path / "out", max_steps=1))
    learned = [run.tokenizer.decode([i for i, label in zip(row["input_ids"], row["labels"]) if label != -100])
               for row in run.trainer.train_dataset]
    assert [text.removesuffix("</s>").strip() for text in learned] == [p["chosen"] for p in PAIRS]


@pytest.mark.parametrize("arch", ["llama", "neox"])
def test_orpo_trains_the_same_tokens_as_dpo(arch, llama_dir, neox_dir, pairs_file, tmp_path):
    """ORPO tokenizes on its own (and adds BOS): its sequences must still be the served ones, BOS only where due."""
    base = llama_dir if arch == "llama" else neox_dir
    orpo = prepare_run(job_for(base, pairs_file, tmp_path / "orpo", objective="orpo", max_steps=1)).trainer.train_dataset
    dpo = prepare_run(job_for(base, pairs_file, tmp_path / "dpo", objective="dpo", max_steps=1)).trainer.train_dataset
    for o, d in zip(orpo, dpo):
        assert o["chosen_input_ids"] == d["prompt_ids"] + d["chosen_ids"]
        assert o["rejected_input_ids"] == d["prompt_ids"] + d["rejected_ids"]
        n = len(d["prompt_ids"])
        assert o["chosen_labels"] == [-100] * n + d["chosen_ids"]


@pytest.mark.parametrize("objective", ["reward", "dpo"])
def test_stack_llama_recipe_pairs_votes_then_trains_on_the_run_folder(objective, llama_dir, tmp_path):
    """recipes/stack-llama.yaml as shipped (only the model and the step count made tiny): the votes source makes
    the pairs, the export writes them, and the train stage trains the reward model (or DPO) on the run's dataset."""
    from factory.testing.helpers import run_cli

    done = run_cli("run", str(REPO / "recipes" / "stack-llama.yaml"), "--out", str(tmp_path / "run"), "-q",
                   "--set", f"train.base_model={llama_dir}", "--set", f"train.objective={objective}",
                   "--set", "train.max_steps=3", "--set", "train.batch_size=4", "--set", "train.micro_batch_size=4",
                   "--set", "train.eval_size=0", "--set", "train.logging_steps=1",
                   "--set", "train.gradient_checkpointing=false")
    assert done.returncode == 0, done.stderr
    pairs = [json.loads(line) for line in (tmp_path / "run" / "accepted.jsonl").read_text().splitlines()]
    assert len(pairs) == 16 and all(p["chosen"] and p["rejected"] and p["score"] > 0 for p in pairs)
    metrics = json.loads((tmp_path / "run" / "train_metrics.json").read_text())
    assert (metrics["objective"], metrics["global_step"], metrics["train_examples"]) == (objective, 3, 16)
    moved = metrics["objective_metrics"]
    assert {"loss", "accuracy", "margin"} <= set(moved) if objective == "reward" else \
        {"loss", "rewards/margins", "rewards/accuracies"} <= set(moved)
    assert all(m["first_step"] == 1 and m["last_step"] == 3 for m in moved.values())
