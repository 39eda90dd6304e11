"""Native Korean self-instruct end to end: the shipped recipe, a loopback teacher, morpheme filtering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.testing.helpers import run_cli
from factory_openai.loopback import LoopbackOpenAI
from factory.testing.responders import self_instruct_responder
from factory.testing.helpers import read_journal_rows

REPO = Path(__file__).resolve().parents[1]
pytest.importorskip("factory_ko")


def test_ko_recipe_makes_a_korean_dataset_filtered_by_morphemes(tmp_path):
    out = tmp_path / "run"
    with LoopbackOpenAI(self_instruct_responder) as server:
        result = run_cli(
            "run", str(REPO / "recipes" / "ko-self-instruct.yaml"), "--out", str(out), "--quiet",
            "--set", f"teacher.base_url={server.base_url}", "--set", "method.target=40",
            "--set", "export.test_size=0.1", cwd=REPO, env={"OPENAI_API_KEY": ""})
        assert result.returncode == 0, result.stderr
        assert server.requests and all(r["path"].endswith("/chat/completions") for r in server.requests)
    accepted = read_journal_rows(out / "accepted.jsonl")
    rejected = read_journal_rows(out / "rejected.jsonl")
    assert len(accepted) >= 40
    assert all(r["meta"]["language"] == "ko" for r in accepted)
    assert all(any("가" <= ch <= "힣" for ch in r["instruction"]) for r in accepted)
    duplicates = [r for r in rejected if r["reason"] == "near_duplicate"]
    assert duplicates, "the Korean near-duplicate filter never fired"

    # the morpheme filter catches pairs that rouge_score's [a-z0-9] tokenizer scores 0
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    by_id = {r["id"]: r for r in accepted}
    checked = 0
    for dup in duplicates:
        other = by_id.get(dup["meta"]["most_similar"])
        if other is None:
            continue  # most similar to a seed task
        assert dup["meta"]["max_rouge_l"] > 0.7
        assert scorer.score(other["instruction"], dup["instruction"])["rougeL"].fmeasure == 0.0
        checked += 1
    assert checked > 0

    stats = json.loads((out / "stats.json").read_text())
    assert stats["rejections"]["near_duplicate"] == len(duplicates)
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(str(out / "data"))
    assert loaded["train"].num_rows + loaded["test"].num_rows == len(accepted)
    card = (out / "data" / "README.md").read_text()
    assert "- ko" in card or "language: ko" in card
