"""The copied_demonstration filter: outputs copied from the demonstrations a prompt showed are caught, in English
and (the quickstart) in Korean, while paraphrases, short labels and outputs of other seeds are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.default_plugins.copy_filter import CopiedDemonstration
from factory.default_plugins.english import English
from factory.filtering import FilterChain
from factory.records import Record
from factory.testing.conformance import FilterConformance
from factory.testing.helpers import read_journal_rows, run_cli

REPO = Path(__file__).resolve().parents[1]
SEEDS = [
    Record.from_alpaca("Give three tips for staying healthy.", "", "Eat vegetables, sleep eight hours and walk every day.",
                       id="s1"),
    Record.from_alpaca("Classify the sentiment of the review.", "I loved it.", "Positive", id="s2"),
    Record.from_alpaca("Explain photosynthesis to a child.", "",
                       "Plants use sunlight, water and air to make their own food and give off oxygen.", id="s3"),
]


def chain(**options):
    return FilterChain.of([("copied_demonstration", options)], English(), seeds=SEEDS)


def record(output: str, shown=("s1", "s2"), instruction="Suggest a weekend plan for a family.", id="r") -> Record:
    return Record.from_alpaca(instruction, "", output, id=id, meta={"demonstrations": list(shown)})


def test_a_copied_demonstration_output_is_caught_with_the_seed_it_copies():
    kept, rejected = chain().apply_sync([record("Eat vegetables, sleep eight hours and walk every day.")])
    assert kept == []
    [(found, reason, detail)] = rejected
    assert reason == "copied_demonstration" and detail.endswith("vs s1")
    assert found.meta["demonstration_rouge_l"] == 1.0


def test_a_light_edit_of_the_demonstration_is_still_a_copy_and_a_real_answer_is_kept():
    copies = record("Eat vegetables, sleep eight hours and walk daily.", id="edit")
    answer = record("Go to the park on Saturday morning and cook dinner together on Sunday.", id="answer")
    kept, rejected = chain().apply_sync([copies, answer])
    assert [r.id for r in kept] == ["answer"]
    assert [(r.id, reason) for r, reason, _ in rejected] == [("edit", "copied_demonstration")]
    assert 0 < answer.meta["demonstration_rouge_l"] < 0.3


def test_short_labels_are_not_judged_and_unshown_seeds_do_not_count():
    label = record("Positive", shown=("s2",), id="label")
    not_shown = record("Plants use sunlight, water and air to make their own food and give off oxygen.",
                       shown=("s1", "s2"), id="unshown")
    kept, rejected = chain().apply_sync([label, not_shown])
    assert [r.id for r in kept] == ["label", "unshown"] and rejected == []
    _, every_seed = chain(against="seeds").apply_sync([not_shown.copy()])
    assert [reason for _, reason, _ in every_seed] == ["copied_demonstration"]


def test_the_instruction_can_be_the_compared_field():
    copied = record("A new answer that shares nothing with any seed output at all.",
                    instruction="Give three tips for staying healthy.", id="i")
    assert chain().apply_sync([copied.copy()])[1] == []
    assert [r for _, r, _ in chain(target="instruction").apply_sync([copied])[1]] == ["copied_demonstration"]


class TestCopiedDemonstrationConformance(FilterConformance):
    plugin = CopiedDemonstration
    options = {"threshold": 0.7}
    identity_changes = {"target": "instruction", "threshold": 0.5, "against": "seeds", "min_tokens": 2}
    seeds = [s.to_dict() for s in SEEDS]
    kept = [{"instruction": "Plan a picnic.", "output": "Bring sandwiches, a blanket and a frisbee to the park.",
             "meta": {"demonstrations": ["s1"]}}]
    rejected = [{"instruction": "Plan a picnic.", "output": "Eat vegetables, sleep eight hours and walk every day.",
                 "meta": {"demonstrations": ["s1"]}}]


@pytest.mark.skipif(not (REPO / "plugins" / "ko").is_dir(), reason="the ko plugin is not in this checkout")
def test_the_quickstart_rejects_a_copied_seed_output(tmp_path):
    """recipes/quickstart.yaml, with an in-process teacher that copies its first demonstration's output (what
    the 270M model did): the record is rejected as copied_demonstration, naming a seed the prompt showed."""
    pytest.importorskip("factory_ko")
    out = tmp_path / "run"
    teacher = "{plugin: fake, responder: 'factory.testing.responders:copying_responder'}"
    result = run_cli("run", str(REPO / "recipes" / "quickstart.yaml"), "--out", str(out), "-q",
                     "--set", f"teacher={teacher}", "--set", "train=null", "--set", "export.enabled=false",
                     cwd=REPO, env={"FACTORY_PLUGIN_MODULES": "factory.testing.fake_teacher"})
    assert result.returncode == 0, result.stderr
    rejected = [r for r in read_journal_rows(out / "rejected.jsonl") if r["reason"] == "copied_demonstration"]
    accepted = read_journal_rows(out / "accepted.jsonl")
    assert rejected, "no copied output was rejected"
    seeds = {json.loads(line)["id"]: json.loads(line) for line in
             (REPO / "seeds" / "ko" / "seed_tasks.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()}
    for row in rejected:
        shown = row["meta"]["demonstrations"]
        copied = row["detail"].rsplit(" vs ", 1)[1]
        assert copied in shown and row["output"] == seeds[copied]["instances"][0]["output"]
    assert accepted and all(r["meta"]["demonstrations"] for r in accepted)
    seed_outputs = {s["instances"][0]["output"] for s in seeds.values()}
    assert not [r for r in accepted if r["output"] in seed_outputs]
