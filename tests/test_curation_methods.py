"""evol-instruct and self-instruct-original: the method contract, their prompts and rules, and whole runs on the
loopback OpenAI teacher (the real ``openai`` client) in English and Korean, through every filter and export."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from factory.default_plugins.evol_instruct import ENGLISH_EVOL, EvolInstruct
from factory.default_plugins.self_instruct_original import ENGLISH_ORIGINAL, SelfInstructOriginal
from factory.plugins import get_plugin
from factory.records import Record
from factory.testing.conformance import MethodConformance
from factory.testing.curation_responders import curation_responder
from factory.testing.helpers import read_journal_rows, run_cli, write_seeds
from factory_openai.loopback import LoopbackOpenAI

DATA = Path(__file__).resolve().parent / "data" / "curation"
KEY = "sk-loopback-curation"


class TestEvolInstructConformance(MethodConformance):
    plugin = EvolInstruct
    identity_changes = {"operations": ["deepen"], "max_generations": 2, "check_equality": False, "temperature": 0.5,
                        "answer_temperature": 0.2, "evolve_max_tokens": 128, "answer_max_tokens": 256,
                        "max_stalled_batches": 3}
    reply = "Name three rivers of Asia and give the length of each in kilometres."


class TestSelfInstructOriginalConformance(MethodConformance):
    plugin = SelfInstructOriginal
    identity_changes = {"num_human": 3, "num_machine": 0, "tasks_per_request": 2, "classify_examples": 4,
                        "instance_examples": 2, "temperature": 0.2, "max_tokens": 256, "max_stalled_batches": 3}
    # one reply serves the three steps: two new tasks, a "no" (input-first), and an input with its output
    reply = (" Name three rivers of Asia.\nInput: <noinput>\nOutput: The Mekong, the Ganges and the Yangtze.\n"
             "Task 10: Give a synonym of quick.")


# -- the rules, one by one -------------------------------------------------------------------------
def test_evol_elimination_rules_2_3_and_4():
    en = get_plugin("language", "en")()
    rule = EvolInstruct.eliminated_answer
    assert rule("Sorry, I cannot help with that.", en, ENGLISH_EVOL) == "evol_refusal"
    assert rule("Sorry for the wait! " + "Here is a full plan with many steps. " * 20, en, ENGLISH_EVOL) is None
    assert rule("... the, and of it !", en, ENGLISH_EVOL) == "evol_empty_response"
    assert rule("Paris is the capital of France.", en, ENGLISH_EVOL) is None
    assert EvolInstruct.copies_prompt("Here is the harder task: name two rivers.", ENGLISH_EVOL) == "harder task"
    assert EvolInstruct.copies_prompt("Name two rivers and compare their lengths.", ENGLISH_EVOL) == ""
    assert EvolInstruct.clean('Harder task: "Name two rivers."', ENGLISH_EVOL) == "Name two rivers."


def _context(method, seeds, accepted=(), batch_size=3):
    from factory.methods import MethodContext

    return MethodContext(language=get_plugin("language", "en")(), seeds=seeds, inputs=[], recipe_seed=7,
                         batch_size=batch_size, accepted=list(accepted))


def test_evol_walks_the_pool_seeds_first_then_kept_records_and_stops_at_max_generations():
    seeds = [Record.from_alpaca(f"Seed task {i}.", id=f"s{i}") for i in range(2)]
    evolved = Record.from_alpaca("Evolved.", id="gen-00000-00", meta={"evol": {"generation": 1, "root": "s0"}})
    capped = Record.from_alpaca("Old.", id="gen-00000-01", meta={"evol": {"generation": 2, "root": "s1"}})
    method = EvolInstruct(max_generations=2)
    ctx = _context(method, seeds, [evolved, capped])
    items = method.items(ctx, 0)
    assert [i.parent.id for i in items] == ["s0", "s1", "gen-00000-00"]  # the capped line is not evolved
    assert [i.parent.id for i in method.items(ctx, 1)] == ["s0", "s1", "gen-00000-00"]  # wraps round
    assert [i.operation for i in items] == [i.operation for i in method.items(_context(method, seeds,
                                                                                     [evolved, capped]), 0)]
    assert method.meta(items[2])["evol"] == {"generation": 2, "operation": items[2].operation,
                                              "kind": "in-breadth" if items[2].operation == "mutate" else "in-depth",
                                              "parent": "gen-00000-00", "root": "s0"}


def test_original_self_instruct_generates_classification_tasks_output_first():
    seeds = [Record.from_alpaca("Classify the review as positive or negative.", "Great food.", "Positive", id="c1",
                                meta={"is_classification": True}),
             Record.from_alpaca("Write a haiku about rain.", "", "Soft rain on the roof...", id="n1",
                                meta={"is_classification": False})]
    method = SelfInstructOriginal(num_human=2, num_machine=0)
    from factory.default_plugins.self_instruct_original import _Task

    classification = _Task(0, 0, "Classify the sentence as formal or informal.", True)
    other = _Task(0, 1, "Suggest a name for a bakery.", False)
    ctx = _context(method, seeds)
    first = method.instance_prompt(classification, method.instance_examples(ctx, classification, 0), ENGLISH_ORIGINAL)
    second = method.instance_prompt(other, method.instance_examples(ctx, other, 0), ENGLISH_ORIGINAL)
    assert first.endswith("Class label:") and "Class label: Positive\nInput: Great food." in first
    assert second.endswith("Input:") and "Input: <noinput>\nOutput: Soft rain on the roof..." in second
    assert method.parse_instance(" Formal\nInput: Dear Sir, I write to you.", classification, ENGLISH_ORIGINAL,
                                 ctx.language) == ("Dear Sir, I write to you.", "Formal")
    assert method.parse_instance(" <noinput>\nOutput: Crumbs & Co.", other, ENGLISH_ORIGINAL, ctx.language) == (
        "", "Crumbs & Co.")
    assert method.is_yes(" Yes.", ENGLISH_ORIGINAL) and not method.is_yes(" No", ENGLISH_ORIGINAL)
    assert not method.is_yes(" It depends.", ENGLISH_ORIGINAL)
    assert method.lookahead is None and SelfInstructOriginal(num_machine=2).lookahead == 0


# -- whole runs on the loopback teacher -----------------------------------------------------------
KO_SEEDS = [
    {"id": "ko_0", "instruction": "건강을 지키는 생활 습관 세 가지를 알려 주세요.", "output": "규칙적으로 자고, 골고루 먹고, 매일 걷습니다.",
     "is_classification": False},
    {"id": "ko_1", "instruction": "다음 문장의 감정을 긍정 또는 부정으로 분류하세요.", "input": "음식이 정말 맛있었어요.",
     "output": "긍정", "is_classification": True},
    {"id": "ko_2", "instruction": "서울에서 부산까지 가는 방법을 비교해 주세요.", "output": "KTX가 가장 빠르고 버스가 가장 저렴합니다.",
     "is_classification": False},
    {"id": "ko_3", "instruction": "다음 뉴스 제목이 어떤 분야인지 분류하세요.", "input": "기준금리 0.25%p 인상",
     "output": "경제", "is_classification": True},
    {"id": "ko_4", "instruction": "재택근무의 장점과 단점을 정리해 주세요.", "output": "출퇴근 시간이 줄지만 소통이 어려워질 수 있습니다.",
     "is_classification": False},
]

RECIPE = """\
name: curation-{method}-{language}
language: {language}
seed: 3
batch_size: 4
method:
  plugin: {method}
  seeds: {seeds}
  target: {target}
{options}
teacher: &teacher
  plugin: openai
  model: gpt-4o-mini
  api: chat
  base_url: {url}
  api_key_env: LOOPBACK_KEY
  concurrency: 8
filters:
  - length
  - blacklist
  - program_task
  - punctuation_start
  - script
  - empty_output
  - output_equals_input
  - copied_demonstration
  - language_id
  - decontaminate: {{benchmarks: [{bench}]}}
  - translation_qa
  - judge_score: {{judge: *teacher, threshold: 4}}
  - near_duplicate: {{threshold: 0.7}}  # last: its pool holds what it keeps, so only what every filter keeps
export:
  test_size: 0.0
"""


def _seeds(tmp_path: Path, language: str) -> Path:
    if language == "en":
        path = write_seeds(tmp_path / "seeds.jsonl")
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows[2]["is_classification"] = True
    else:
        rows = [{"id": s["id"], "name": s["id"], "instruction": s["instruction"], "is_classification": s["is_classification"],
                 "instances": [{"input": s.get("input", ""), "output": s["output"]}]} for s in KO_SEEDS]
        path = tmp_path / "seeds.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(tmp_path: Path, method: str, language: str, target: int, options: str = "") -> tuple[Path, LoopbackOpenAI]:
    out = tmp_path / "run"
    with LoopbackOpenAI(curation_responder, api_key=KEY) as server:
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(RECIPE.format(method=method, language=language, seeds=_seeds(tmp_path, language),
                                        target=target, options=options, url=server.base_url,
                                        bench=DATA / f"bench_{language}.jsonl"), encoding="utf-8")
        done = run_cli("run", str(recipe), "--out", str(out), "-q", env={"LOOPBACK_KEY": KEY})
        assert done.returncode == 0, done.stderr
    return out, server


def _check_export(out: Path, accepted: list[dict]) -> None:
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(str(out / "data"))
    assert loaded["train"].num_rows == len(accepted)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["status"] == "finished"
    assert [f["plugin"] for f in stats["provenance"]["filters"]][-2:] == ["judge_score", "near_duplicate"]


@pytest.mark.parametrize("language", ["en", "ko"])
def test_evol_instruct_runs_end_to_end_through_every_filter_and_export(tmp_path, language):
    if language == "ko":
        pytest.importorskip("factory_ko")
    out, server = _run(tmp_path, "evol-instruct", language, target=10)
    accepted = read_journal_rows(out / "accepted.jsonl")
    rejected = read_journal_rows(out / "rejected.jsonl")
    assert len(accepted) >= 10
    generations = {r["meta"]["evol"]["generation"] for r in accepted}
    assert 1 in generations and max(generations) >= 2  # kept records were evolved again
    assert all(r["meta"]["evol"]["root"].startswith(("seed_task_", "ko_")) for r in accepted)
    assert all(r["meta"]["judge"]["score"] >= 4 for r in accepted)
    reasons = {r["reason"] for r in rejected}
    assert {"evol_copied_prompt", "evol_refusal"} & reasons or "low_judge_score" in reasons, reasons
    prompts = [r["body"]["messages"][-1]["content"] for r in server.requests if r["path"].endswith("/chat/completions")]
    if language == "ko":
        assert any(p.startswith("AI 비서를 학습시킬 과제를 더 어렵게") for p in prompts)
        assert all(any("가" <= ch <= "힣" for ch in r["instruction"]) for r in accepted)
    else:
        assert any(p.startswith("You make tasks for training an AI assistant harder") for p in prompts)
    _check_export(out, accepted)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_original_self_instruct_runs_end_to_end_through_every_filter_and_export(tmp_path, language):
    if language == "ko":
        pytest.importorskip("factory_ko")
    out, server = _run(tmp_path, "self-instruct-original", language, target=8, options="  tasks_per_request: 2")
    accepted = read_journal_rows(out / "accepted.jsonl")
    assert len(accepted) >= 8
    orders = {(r["meta"]["is_classification"], r["meta"]["instance_order"]) for r in accepted}
    assert orders <= {(True, "output-first"), (False, "input-first")} and len(orders) == 2
    labels = {"Positive", "Negative"} if language == "en" else {"긍정", "부정"}
    assert all(r["output"] in labels for r in accepted if r["meta"]["is_classification"])
    assert all(r["meta"]["demonstrations"] for r in accepted)
    prompts = [r["body"]["messages"][-1]["content"] for r in server.requests if r["path"].endswith("/chat/completions")]
    label = "Task" if language == "en" else "과제"
    generation = [p for p in prompts if p.rstrip().endswith(":") and f"\n{label} 1: " in p]
    assert any(p.rstrip().endswith(f"{label} 6:") for p in generation)  # the first batch lists the 5 seeds
    kept = [r["instruction"] for r in accepted]
    assert any(any(k in p for k in kept) for p in generation[4:])  # later batches show instructions kept earlier
    _check_export(out, accepted)


def test_a_resumed_evol_run_asks_and_keeps_what_an_uninterrupted_one_does(tmp_path):
    """lookahead 0: each batch evolves the pool as the journal holds it, so stopping and raising the target gives
    the journal of one uninterrupted run (in-process teacher: nothing but the method and the engine)."""
    seeds = _seeds(tmp_path, "en")
    recipe = tmp_path / "evol.yaml"
    recipe.write_text(f"name: evol\nlanguage: en\nseed: 5\nbatch_size: 3\nexport: {{enabled: false}}\n"
                      f"method: {{plugin: evol-instruct, seeds: {seeds}, target: 5, max_generations: 3}}\n"
                      "teacher: {plugin: fake, responder: 'factory.testing.curation_responders:curation_responder'}\n"
                      "filters: [length, {near_duplicate: {threshold: 0.7}}]\n")
    env = {"FACTORY_PLUGIN_MODULES": "factory.testing.fake_teacher"}
    for args in ((), ("--set", "method.target=12")):
        done = run_cli("run", str(recipe), "--out", str(tmp_path / "resumed"), "-q", *args, env=env)
        assert done.returncode == 0, done.stderr
    done = run_cli("run", str(recipe), "--out", str(tmp_path / "once"), "-q", "--set", "method.target=12", env=env)
    assert done.returncode == 0, done.stderr
    resumed = (tmp_path / "resumed" / "accepted.jsonl").read_text()
    assert resumed == (tmp_path / "once" / "accepted.jsonl").read_text()
    generations = [json.loads(line)["meta"]["evol"]["generation"] for line in resumed.splitlines()]
    assert len(generations) >= 12 and max(generations) >= 2
