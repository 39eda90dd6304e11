"""ai-feedback and pairwise-judge: whole runs through the real ``openai`` client against the loopback server, with a
deterministic answerer and judge (:class:`factory.testing.responders.PreferenceTeacher`): valid pairs, ties and
position-inconsistent judgements dropped with reasons, invalid judge replies retried then rejected, resume without
paying twice (counted on the server), and the budget."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from factory.testing.helpers import read_journal_rows, run_cli, write_seeds
from factory.testing.responders import PreferenceTeacher, preference_hash
from factory_openai.loopback import LoopbackOpenAI

KEY = "sk-loopback-preferences"
EN_PROMPTS = [f"Plan a small {thing} for a neighbourhood group of {n} people."
              for thing in ("picnic", "book club", "clean-up day", "garden", "choir", "chess night") for n in (8, 20)]
KO_PROMPTS = [f"{n}명이 모이는 동네 {thing} 계획을 세워 주세요." for thing in ("소풍", "독서 모임", "대청소", "텃밭", "합창단", "바둑 모임")
              for n in (8, 20)]

RECIPE = """\
name: pref-{method}
language: {language}
seed: 1
batch_size: 3
{budget}
method:
  plugin: {method}
  seeds: {seeds}
  target: 100
{options}
teacher:
  plugin: openai
  model: gpt-4o-mini
  api: chat
  base_url: {url}
  api_key_env: LOOPBACK_KEY
  concurrency: 8
{price}
filters: []
export:
  test_size: 0.0
  views: [trl-preference, trl-unpaired, llama-factory-ranking]
"""


def _recipe(tmp_path: Path, server: LoopbackOpenAI, method: str, language: str = "en", options: str = "",
            budget: float | None = None, price: bool = False) -> Path:
    prompts = EN_PROMPTS if language == "en" else KO_PROMPTS
    seeds = write_seeds(tmp_path / f"seeds-{language}.jsonl", prompts)
    recipe = tmp_path / f"{method}-{language}.yaml"
    recipe.write_text(RECIPE.format(
        method=method, language=language, seeds=seeds, options=options, url=server.base_url,
        budget=f"budget_usd: {budget}" if budget is not None else "",
        price="  price: {input_per_1m: 1000, output_per_1m: 1000}" if price else ""), encoding="utf-8")
    return recipe


def _run(recipe: Path, out: Path, *args: str):
    return run_cli("run", str(recipe), "--out", str(out), "-q", *args, env={"LOOPBACK_KEY": KEY})


def _bodies(server: LoopbackOpenAI) -> list[dict]:
    return [r["body"] for r in server.requests if r["path"].endswith("/chat/completions")]


@pytest.mark.parametrize("language", ["en", "ko"])
def test_ai_feedback_keeps_best_vs_worst_and_drops_ties_low_margins_and_unparsed_judgements(tmp_path, language):
    if language == "ko":
        pytest.importorskip("factory_ko")
    teacher = PreferenceTeacher()
    with LoopbackOpenAI(teacher, api_key=KEY) as server:
        recipe = _recipe(tmp_path, server, "ai-feedback", language, "  answers: 4\n  margin: 2")
        done = _run(recipe, tmp_path / "run")
        assert done.returncode == 0, done.stderr
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    rejected = read_journal_rows(tmp_path / "run" / "rejected.jsonl")
    prompts = EN_PROMPTS if language == "en" else KO_PROMPTS
    assert accepted and len(accepted) + len({r["meta"]["prompt_id"] for r in rejected
                                             if r["reason"] != "judge_unparsed"}) == len(prompts)
    for row in accepted:
        pref = row["meta"]["preference"]
        prompt = row["messages"][-1]["content"]
        assert row["messages"][-1]["role"] == "user" and prompt in prompts
        # the chosen answer has the most steps of the four sampled, the rejected the fewest (what the judge scores)
        counts = [teacher.sentences(prompt, k) for k in range(4)]
        assert teacher.quality(row["chosen"]) == max(counts) + 1 and teacher.quality(row["rejected"]) == min(counts) + 1
        assert pref["margin"] == row["score"] == pref["chosen"]["score"] - pref["rejected"]["score"] >= 2
        assert len(pref["answers"]) >= 2 and all(0 <= a["score"] <= 5 for a in pref["answers"])
    reasons = Counter(r["reason"] for r in rejected)
    assert {"preference_tie", "low_margin", "judge_unparsed"} <= set(reasons), reasons
    for row in rejected:
        pref = row["meta"]["preference"]
        if row["reason"] == "preference_tie":
            assert pref["margin"] == 0 and len({a["score"] for a in pref["answers"]}) == 1
        if row["reason"] == "low_margin":
            assert 0 < pref["margin"] < 2
        if row["reason"] == "judge_unparsed":
            assert "schema_invalid" in row["detail"] and "3 attempt" in row["detail"]
    # invalid replies were asked again: every judge body of an unparsed answer three times, once-invalid ones twice
    judged = Counter(json.dumps(b["messages"], ensure_ascii=False) for b in _bodies(server) if "response_format" in b)
    assert sorted(set(judged.values())) == [1, 2, 3]
    assert all(b["response_format"]["type"] == "json_schema" for b in _bodies(server) if "response_format" in b)
    rubric = "Rate the response below on a scale from 0 to 5." if language == "en" else "아래 응답을 0점에서 5점 사이로 평가하세요."
    assert any(rubric in b["messages"][-1]["content"] for b in _bodies(server))
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    summary = stats["method_summary"]
    assert stats["status"] == "finished" and summary["pairs"] == len(accepted)
    assert summary["dropped"] == dict(sorted(reasons.items()))
    assert summary["margins"]["min"] >= 2 and sum(summary["margins"]["histogram"].values()) == len(accepted)
    (scores,) = summary["scores_by_teacher"].values()
    assert scores["count"] == 4 * len(prompts) - reasons["judge_unparsed"]
    card = (tmp_path / "run" / "data" / "README.md").read_text()
    assert "### Preference pairs" in card and "| margin threshold | 2 |" in card
    assert "judge models | openai:gpt-4o-mini@127.0.0.1" in card and "rubric" in card
    datasets = pytest.importorskip("datasets")
    views = tmp_path / "run" / "data" / "views"
    pref = datasets.load_dataset("json", data_files=str(views / "trl-preference" / "train.jsonl"))["train"]
    assert pref.num_rows == len(accepted) and pref[0]["chosen"][0]["content"] == accepted[0]["chosen"]
    unpaired = datasets.load_dataset("json", data_files=str(views / "trl-unpaired" / "train.jsonl"))["train"]
    assert unpaired.num_rows == 2 * len(accepted)
    report = tmp_path / "report.html"
    done = run_cli("report", str(tmp_path / "run"), "-o", str(report), "--samples", "2")
    assert done.returncode == 0, done.stderr
    html = report.read_text()  # a score histogram per answering teacher and the margin distribution
    assert f"{scores['count']} scored, mean {scores['mean']:g}" in html and "Margins of the kept pairs" in html


@pytest.mark.parametrize("language", ["en", "ko"])
def test_pairwise_judge_asks_both_orders_and_drops_ties_and_position_inconsistent_verdicts(tmp_path, language):
    if language == "ko":
        pytest.importorskip("factory_ko")
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as server:
        done = _run(_recipe(tmp_path, server, "pairwise-judge", language), tmp_path / "run")
        assert done.returncode == 0, done.stderr
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    rejected = read_journal_rows(tmp_path / "run" / "rejected.jsonl")
    assert len(accepted) + len(rejected) == len(EN_PROMPTS)
    wording = "Which response serves the request better?" if language == "en" else "어느 응답이 요청에 더 잘 맞나요?"
    assert all(wording in b["messages"][-1]["content"] for b in _bodies(server) if "response_format" in b)
    reasons = Counter(r["reason"] for r in rejected)
    assert reasons["pairwise_tie"] and reasons["position_inconsistent"], reasons
    for row in accepted:
        judgements = row["meta"]["preference"]["judgements"]
        assert [j["order"] for j in judgements] == ["xy", "yx"]
        assert judgements[0]["winner"] == judgements[1]["winner"] != "tie"
        assert {j["position"] for j in judgements} == {"first", "second"}  # the same answer, once in each place
        assert PreferenceTeacher.quality(row["chosen"]) > PreferenceTeacher.quality(row["rejected"])
    for row in rejected:
        judgements = row["meta"]["preference"]["judgements"]
        if row["reason"] == "position_inconsistent":  # the biased judge picks whatever is shown first
            assert judgements[0]["winner"] != judgements[1]["winner"]
            assert [j["position"] for j in judgements] == ["first", "first"]
            assert preference_hash(row["messages"][0]["content"], "pref") % 4 == 0
    # each pair was shown in both orders; a judge reply without the JSON was asked for three times, then rejected
    judge_prompts = Counter(b["messages"][-1]["content"] for b in _bodies(server) if "response_format" in b)
    assert len(judge_prompts) == 2 * len(EN_PROMPTS)
    (unparsed,) = [r for r in rejected if r["reason"] == "judge_unparsed"]
    assert "schema_invalid" in unparsed["detail"] and "after 3 attempt(s)" in unparsed["detail"]
    assert sorted(judge_prompts.values()) == [1] * (2 * len(EN_PROMPTS) - 2) + [3, 3]
    compared = len(EN_PROMPTS) - 1
    bias = json.loads((tmp_path / "run" / "stats.json").read_text())["method_summary"]["position_bias"]
    assert bias["pairs_compared"] == compared and bias["judgements"] == 2 * compared
    assert bias["orders_disagree"] == reasons["position_inconsistent"]
    assert bias["agreement"] == round(bias["orders_agree"] / bias["pairs_compared"], 4)
    assert bias["first_position_share"] > 0.5  # the biased prompts tilt the judge to the first position
    card = (tmp_path / "run" / "data" / "README.md").read_text()
    assert "Position bias of the judge" in card
    assert f"| first-position share of decided judgements (0.5 = no bias) | {bias['first_position_share']} |" in card
    assert "comparison wording | A/B in both orders" in card
    if language == "ko":
        return
    report = tmp_path / "report.html"
    done = run_cli("report", str(tmp_path / "run"), "-o", str(report), "--samples", "2")
    assert done.returncode == 0, done.stderr
    html = report.read_text()
    assert "Preference pairs" in html and "Judge agreement across orders: " \
        f"{bias['orders_agree']} of {bias['pairs_compared']} pairs" in html


def test_pairwise_judge_rejudges_given_pairs_without_sampling_answers(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"id": f"p{i}", "prompt": prompt, "chosen": PreferenceTeacher.answer(prompt, 0),
             "rejected": PreferenceTeacher.answer(prompt, 1)} for i, prompt in enumerate(EN_PROMPTS[:6])]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as server:
        recipe = _recipe(tmp_path, server, "pairwise-judge", options=f"  prompts: {pairs}\n  prompts_format: trl-preference")
        done = _run(recipe, tmp_path / "run")
        assert done.returncode == 0, done.stderr
    bodies = _bodies(server)  # judgements only: two orders of six pairs (one reply re-asked twice in each order)
    assert all("response_format" in b for b in bodies)
    assert len({json.dumps(b["messages"]) for b in bodies}) == 12 and len(bodies) == 12 + 2 * 2
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    assert {r["meta"]["prompt_id"] for r in accepted} <= {r["id"] for r in rows}
    assert all(a["teacher"].startswith("given") for r in accepted for a in r["meta"]["preference"]["answers"])


def test_pairwise_judge_rejudges_the_pairs_of_a_generated_run_folder(tmp_path):
    """method.prompts may name a run folder: its kept pairs are judged again in both orders (the agreement of a
    second judge with the first), and no answer is sampled."""
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as server:
        done = _run(_recipe(tmp_path, server, "ai-feedback"), tmp_path / "first")
        assert done.returncode == 0, done.stderr
        kept = read_journal_rows(tmp_path / "first" / "accepted.jsonl")
        sent = len(server.requests)
        recipe = _recipe(tmp_path, server, "pairwise-judge", options=f"  prompts: {tmp_path / 'first'}")
        done = _run(recipe, tmp_path / "second")
        assert done.returncode == 0, done.stderr
        again = _bodies(server)[sent:]
    assert kept and all("response_format" in b for b in again)
    assert len({json.dumps(b["messages"]) for b in again}) == 2 * len(kept)  # both orders of each pair, nothing else
    judged = read_journal_rows(tmp_path / "second" / "accepted.jsonl") + \
        read_journal_rows(tmp_path / "second" / "rejected.jsonl")
    assert sorted(r["meta"]["prompt_id"] for r in judged) == sorted(r["id"] for r in kept)
    # where the second judge agrees in both orders, it keeps the first judge's choice
    first_choice = {r["id"]: r["chosen"] for r in kept}
    assert all(first_choice[r["meta"]["prompt_id"]] == r["chosen"]
               for r in read_journal_rows(tmp_path / "second" / "accepted.jsonl"))


def test_ai_feedback_stopped_by_the_budget_resumes_without_paying_twice(tmp_path):
    """A run stopped by its budget, then resumed with a larger one, sends the server exactly the requests of one
    uninterrupted run, and keeps the same pairs; a finished run rerun sends nothing."""
    options = "  answers: 3\n  margin: 1\n  max_tokens: 64\n  judge_max_tokens: 32"
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as server:
        (tmp_path / "once").mkdir()
        once = _recipe(tmp_path / "once", server, "ai-feedback", options=options, price=True)
        done = _run(once, tmp_path / "once" / "run")
        assert done.returncode == 0, done.stderr
        uninterrupted = len(server.requests)
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as server:
        (tmp_path / "resumed").mkdir()
        recipe = _recipe(tmp_path / "resumed", server, "ai-feedback", options=options, budget=0.5, price=True)
        stopped = _run(recipe, tmp_path / "resumed" / "run")
        assert stopped.returncode != 0 and "budget" in stopped.stderr.lower(), stopped.stderr
        stats = json.loads((tmp_path / "resumed" / "run" / "stats.json").read_text())
        assert stats["status"] == "stopped" and stats["totals"]["cost_usd"] <= 0.5
        first = len(server.requests)
        assert 0 < first < uninterrupted
        done = _run(recipe, tmp_path / "resumed" / "run", "--set", "budget_usd=100")
        assert done.returncode == 0, done.stderr
        assert len(server.requests) == uninterrupted  # nothing paid twice
        again = _run(recipe, tmp_path / "resumed" / "run", "--set", "budget_usd=100")
        assert again.returncode == 0 and len(server.requests) == uninterrupted

    def pairs(folder: str) -> list[tuple]:  # the teacher labels hold each server's port; the data must match
        return [(r["id"], r["messages"], r["chosen"], r["rejected"], r["score"])
                for r in read_journal_rows(tmp_path / folder / "run" / "accepted.jsonl")]

    assert pairs("resumed") == pairs("once") and pairs("once")


def test_a_method_without_prompts_says_so_in_one_line(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"prompt": [{"role": "system", "content": "no user turn"}], "completion": "x",
                                 "label": True}) + "\n")
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as server:
        recipe = _recipe(tmp_path, server, "ai-feedback", options=f"  prompts: {empty}")
        done = _run(recipe, tmp_path / "run")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no prompts in" in done.stderr and str(empty) in done.stderr
    assert not server.requests


@pytest.mark.parametrize("method", ["ai-feedback", "pairwise-judge"])
def test_the_prompts_contents_not_their_path_are_the_methods_identity(tmp_path, method):
    from factory.plugins import get_plugin

    cls = get_plugin("method", method)
    first, moved = tmp_path / "a.jsonl", tmp_path / "sub" / "b.jsonl"
    moved.parent.mkdir()
    for path in (first, moved):
        path.write_text(json.dumps({"instruction": EN_PROMPTS[0]}) + "\n")
    identity = cls.identity_for(cls.options_model(prompts=str(first)))
    assert identity == cls.identity_for(cls.options_model(prompts=str(moved))) and "prompts" not in identity
    first.write_text(json.dumps({"instruction": EN_PROMPTS[1]}) + "\n")
    assert cls.identity_for(cls.options_model(prompts=str(first))) != identity
    assert cls.identity_for(cls.options_model(judge_max_tokens=64)) != cls.identity_for(cls.options_model())


def test_ai_feedback_spreads_answers_over_several_teachers_and_reports_scores_per_teacher(tmp_path):
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as first, \
            LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as second:
        extra = (f"  teachers:\n    - {{plugin: openai, model: second-model, api: chat, base_url: {second.base_url}, "
                 "api_key_env: LOOPBACK_KEY}")
        done = _run(_recipe(tmp_path, first, "ai-feedback", options=f"  answers: 4\n{extra}"), tmp_path / "run")
        assert done.returncode == 0, done.stderr
    # answers 1 and 3 of every prompt went to the second teacher, every judgement to the first (the recipe's)
    assert sorted({b["seed"] for b in _bodies(second)}) == [1, 3] and len(_bodies(second)) == 2 * len(EN_PROMPTS)
    assert all("response_format" not in b and b["model"] == "second-model" for b in _bodies(second))
    assert {b["seed"] for b in _bodies(first) if "response_format" not in b} == {0, 2}
    summary = json.loads((tmp_path / "run" / "stats.json").read_text())["method_summary"]
    by_teacher = summary["scores_by_teacher"]
    assert len(by_teacher) == 2 and any("second-model" in t for t in by_teacher)
    assert sum(s["count"] for s in by_teacher.values()) == 4 * len(EN_PROMPTS) - summary["dropped"].get("judge_unparsed", 0)
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    assert {r["meta"]["preference"]["chosen"]["teacher"] for r in accepted} | \
        {r["meta"]["preference"]["rejected"]["teacher"] for r in accepted} == set(by_teacher)
    card = (tmp_path / "run" / "data" / "README.md").read_text()
    assert "answerer 2 model | openai: second-model" in card and card.count("second-model") >= 2


def test_with_the_default_filters_no_pair_is_a_near_duplicate_of_its_own_seed(tmp_path):
    """The seeds are the prompts here: they do not start the near-duplicate pool (Method.seeds_in_pool), and a
    pair's output is its two replies, so the Alpaca-era default filters keep pairs."""
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as server:
        recipe = _recipe(tmp_path, server, "ai-feedback", options="  margin: 1")
        recipe.write_text(recipe.read_text().replace("filters: []\n", ""))
        done = _run(recipe, tmp_path / "run")
        assert done.returncode == 0, done.stderr
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    rejected = read_journal_rows(tmp_path / "run" / "rejected.jsonl")
    assert accepted and not any("seed_task" in r["detail"] for r in rejected)
    assert not any(r["reason"] == "empty_output" for r in rejected)
    assert all(r["detail"].startswith("rouge_l=") and "gen-" in r["detail"]
               for r in rejected if r["reason"] == "near_duplicate")  # against pairs kept before, as intended
