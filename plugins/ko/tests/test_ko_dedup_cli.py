"""`factory dedup --language ko` on the labelled pairs: paraphrases go, distinct tasks stay."""

from __future__ import annotations

from pathlib import Path

from factory.pairs_eval import dedup_pairs_with_cli, load_pairs

PAIRS = Path(__file__).parent / "data" / "ko_pairs.jsonl"


def test_dedup_command_catches_korean_paraphrases_and_keeps_distinct_tasks(tmp_path):
    pairs = load_pairs(PAIRS)
    dropped = dedup_pairs_with_cli(pairs, "ko", tmp_path)
    paraphrases = [p for p in pairs if p.label == 1]
    distinct = [p for p in pairs if p.label == 0]
    # measured: 111 of 112 paraphrases dropped (98 as near-duplicates of their own first text),
    # 3 of 110 distinct tasks dropped (pooled, a task can meet a near-twin from another pair)
    caught = [p for p in paraphrases if f"b-{p.id}" in dropped]
    assert len(caught) >= 111
    assert all(dropped[f"b-{p.id}"]["max_rouge_l"] > 0.7 for p in caught)
    assert sum(dropped[f"b-{p.id}"]["most_similar"] == f"a-{p.id}" for p in caught) >= 95
    assert sum(f"b-{p.id}" in dropped for p in distinct) <= 3
    # rouge_score's default tokenizer would have dropped almost none of them
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    assert sum(scorer.score(p.a, p.b)["rougeL"].fmeasure > 0.7 for p in paraphrases) <= 5
