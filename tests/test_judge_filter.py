"""The judge_score filter (AlpaGasus): a judge on the loopback OpenAI server rates records on the language's rubric;
scores land in meta, judging is cached and budgeted, unparsable replies are reported, and the report shows the
distribution."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from factory.costs import Budget, BudgetExceeded, Usage
from factory.default_plugins.judge_filter import JudgeScore
from factory.filtering import ConfiguredFilter, FilterChain, FilterContext
from factory.plugins import get_plugin
from factory.quality_judge import ENGLISH_RUBRIC, judge_prompt
from factory.records import Record
from factory.teacher_factory import TeacherSpec
from factory.testing import fake_teacher
from factory.testing.conformance import FilterConformance
from factory.testing.curation_responders import curation_responder
from factory.testing.helpers import run_cli
from factory.testing.plugins import registered
from factory.teaching import ResponseCache
from factory_openai.loopback import LoopbackOpenAI

KEY = "sk-loopback-judge"
RECORDS = [
    Record.from_alpaca("Give three tips for staying healthy.", "", "Sleep eight hours, eat vegetables and walk daily.",
                       id="good"),
    Record.from_alpaca("Explain photosynthesis.", "", "Sorry, I cannot help with that.", id="refusal"),
    Record.from_alpaca("Name the capital of France.", "", "Paris is the capital and largest city of France.", id="c"),
    Record.from_alpaca("Write a haiku about autumn.", "", "Red leaves drift and fall / a cold wind hums / the year "
                       "turns", id="d"),
]


def spec(server, **settings) -> TeacherSpec:
    return TeacherSpec.from_section({"plugin": "openai", "model": "gpt-4o-mini", "api": "chat",
                                     "base_url": server.base_url, "api_key_env": "JUDGE_KEY", **settings})


def chain(server, language, cache: Path, usage: Usage, budget: Budget | None = None, **options) -> FilterChain:
    judge = JudgeScore(judge=spec(server), threshold=4, **options)
    ctx = FilterContext(language=language, client_for=lambda s: s.client(usage=usage, budget=budget, cache_path=cache))
    return FilterChain([ConfiguredFilter("judge_score", judge)], ctx)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", KEY)


def test_a_judge_on_the_loopback_teacher_scores_every_record_and_keeps_the_good_ones(tmp_path):
    en = get_plugin("language", "en")()
    with LoopbackOpenAI(curation_responder, api_key=KEY) as server:
        usage = Usage()
        records = [r.copy() for r in RECORDS]
        kept, rejected = chain(server, en, tmp_path / "cache.sqlite", usage).apply_sync(records)
        assert usage.requests == len(RECORDS) == len(server.requests)
        bodies = [r["body"] for r in server.requests]
        assert all(b["messages"][0]["content"] == ENGLISH_RUBRIC.system for b in bodies)
        assert all(b["response_format"]["type"] == "json_schema" for b in bodies)  # the schema travels with it
        assert {b["messages"][1]["content"] for b in bodies} == {judge_prompt(r, ENGLISH_RUBRIC) for r in RECORDS}
        scores = {r.id: r.meta["judge"]["score"] for r in records}
        assert scores["refusal"] == 1
        assert [r.id for r in kept] == [r.id for r in records if scores[r.id] >= 4]
        assert {(r.id, reason) for r, reason, _ in rejected} == {(r.id, "low_judge_score") for r in records
                                                               if scores[r.id] < 4}
        assert all(detail.startswith(f"score {scores[r.id]:g} < 4") for r, _, detail in rejected)

        again = Usage()  # the same records again: every judgement comes from the run's response cache
        chain(server, en, tmp_path / "cache.sqlite", again).apply_sync([r.copy() for r in RECORDS])
        assert again.requests == 0 and again.cached_requests == len(RECORDS) and len(server.requests) == len(RECORDS)


def test_judging_is_budgeted(tmp_path):
    en = get_plugin("language", "en")()
    with LoopbackOpenAI(curation_responder, api_key=KEY) as server:
        with pytest.raises(BudgetExceeded):
            chain(server, en, tmp_path / "c.sqlite", Usage(), budget=Budget(limit_usd=1e-7)).apply_sync(
                [r.copy() for r in RECORDS])


def test_a_judge_that_never_replies_with_the_json_is_reported_not_guessed(tmp_path):
    en = get_plugin("language", "en")()
    with LoopbackOpenAI(lambda request: "I think it is quite good, maybe a four.", api_key=KEY) as server:
        records = [RECORDS[0].copy()]
        kept, rejected = chain(server, en, tmp_path / "c.sqlite", Usage(), attempts=2).apply_sync(records)
        assert kept == [] and [reason for _, reason, _ in rejected] == ["judge_unparsed"]
        assert len(server.requests) == 2 and records[0].meta["judge"] == {"score": None, "failure": "judge_unparsed"}
        kept, _ = chain(server, en, tmp_path / "c.sqlite", Usage(), attempts=2,
                        keep_unjudged=True).apply_sync([RECORDS[0].copy()])
        assert len(kept) == 1 and len(server.requests) == 2  # same attempts: from the cache


def test_a_korean_record_is_judged_on_the_korean_rubric(tmp_path):
    pytest.importorskip("factory_ko")
    ko = get_plugin("language", "ko")()
    with LoopbackOpenAI(curation_responder, api_key=KEY) as server:
        record = Record.from_alpaca("건강을 지키는 방법을 알려 주세요.", "", "잘 자고, 골고루 먹고, 매일 걸으세요.", id="k")
        chain(server, ko, tmp_path / "c.sqlite", Usage()).apply_sync([record])
        prompt = server.requests[0]["body"]["messages"][1]["content"]
        assert prompt.startswith("아래 응답을 0점에서 5점 사이로 평가하세요.") and "\n응답:\n잘 자고" in prompt
        assert isinstance(record.meta["judge"]["score"], float)


def test_a_run_with_the_judge_shows_the_score_distribution_in_the_report(tmp_path):
    rows = [r.alpaca() for r in RECORDS] + [{"instruction": f"List {n} colours of the rainbow.", "input": "",
                                             "output": ", ".join(["red", "orange", "yellow", "green"][:n])}
                                            for n in (2, 3, 4)]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with LoopbackOpenAI(curation_responder, api_key=KEY) as server:
        recipe = tmp_path / "judge.yaml"
        recipe.write_text(f"name: judged\nlanguage: en\nsource: {{path: {source.name}}}\nexport: {{enabled: false}}\n"
                          "filters:\n  - judge_score:\n      threshold: 4.5\n      judge: {plugin: openai, model: "
                          f"gpt-4o-mini, api: chat, base_url: '{server.base_url}', api_key_env: JUDGE_KEY}}\n")
        done = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
        assert done.returncode == 0, done.stderr
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["usage"]["filter"]["requests"] == len(rows)  # judging is counted in the run's usage
    report = tmp_path / "report.html"
    done = run_cli("report", str(tmp_path / "run"), "-o", str(report))
    assert done.returncode == 0, done.stderr
    html = report.read_text()
    section = html.split("<h2>Judge scores</h2>")[1].split("</section>")[0]
    assert f"{len(rows)} records scored by judge_score" in section and "threshold 4.5" in section
    assert "<td>1</td>" in section  # the refusal's score is a row of the distribution


class TestJudgeScoreConformance(FilterConformance):
    plugin = JudgeScore
    options = {"judge": {"plugin": "fake", "responder": "factory.testing.curation_responders:curation_responder"},
               "threshold": 2}
    identity_changes = {"judge": {"plugin": "fake", "model": "other", "responder": "echo"}, "threshold": 3.5,
                        "max_tokens": 64, "temperature": 0.5, "attempts": 1, "keep_unjudged": True}
    kept = [RECORDS[0].alpaca()]
    rejected = [RECORDS[1].alpaca()]

    @pytest.fixture(autouse=True)
    def _fake_teacher(self):
        with registered(fake_teacher):
            yield

    def make_context(self, language):
        return FilterContext(language=language, client_for=lambda s: s.client(usage=Usage(), budget=None))


def test_the_judge_filter_needs_a_client():
    with registered(fake_teacher):
        judge = JudgeScore(judge={"plugin": "fake"})
        with pytest.raises(RuntimeError, match="client_for"):
            judge.prepare(FilterContext(language=get_plugin("language", "en")()))
