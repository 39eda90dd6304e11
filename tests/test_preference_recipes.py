"""The shipped preference recipes: they validate, and ko-preference runs as shipped (only the servers and keys
overridden) against two loopback servers, a teacher and a separate judge, through the real ``openai`` client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from factory.testing.helpers import read_journal_rows, run_cli
from factory.testing.responders import PreferenceTeacher
from factory_openai.loopback import LoopbackOpenAI

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-loopback-recipes"


def test_the_preference_recipes_validate():
    done = run_cli("validate", str(REPO / "recipes" / "ko-preference.yaml"), str(REPO / "recipes" / "stack-llama.yaml"),
                   env={"OPENAI_API_KEY": "sk-test"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok") == 2


def test_ko_preference_recipe_makes_korean_pairs_with_a_separate_judge(tmp_path):
    pytest.importorskip("factory_ko")
    with LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as teacher, \
            LoopbackOpenAI(PreferenceTeacher(), api_key=KEY) as judge:
        done = run_cli("run", str(REPO / "recipes" / "ko-preference.yaml"), "--out", str(tmp_path / "run"), "-q",
                       "--set", f"teacher.base_url={teacher.base_url}", "--set", "teacher.api_key_env=LOOPBACK_KEY",
                       "--set", f"method.judge.base_url={judge.base_url}", "--set",
                       "method.judge.api_key_env=LOOPBACK_KEY", "--set", "method.target=4",
                       cwd=REPO, env={"LOOPBACK_KEY": KEY})
        assert done.returncode == 0, done.stderr
    answers = [r["body"] for r in teacher.requests if r["path"].endswith("/chat/completions")]
    judgements = [r["body"] for r in judge.requests if r["path"].endswith("/chat/completions")]
    assert answers and all("response_format" not in b and b["model"] == "gpt-4o-mini" for b in answers)
    assert judgements and all("response_format" in b and b["model"] == "gpt-4o" for b in judgements)
    assert all("아래 응답을 0점에서 5점 사이로 평가하세요." in b["messages"][-1]["content"] for b in judgements)
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    assert len(accepted) >= 4
    for row in accepted:
        assert any("가" <= ch <= "힣" for ch in row["chosen"]) and row["meta"]["preference"]["margin"] >= 1.5
        assert row["meta"]["preference"]["judge"].startswith("openai:gpt-4o@")
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["provenance"]["teachers"]["judge"]["model"] == "gpt-4o"
    views = tmp_path / "run" / "data" / "views"
    assert {p.name for p in views.iterdir()} == {"trl-preference", "trl-unpaired", "llama-factory-ranking"}


def test_stack_llama_recipe_pairs_the_shipped_sample(tmp_path):
    """The data half of stack-llama (the train half runs in plugins/peft/tests)."""
    from factory.formats import load_source

    records = load_source(REPO / "recipes" / "data" / "stack-exchange-sample.jsonl", "votes")
    assert len(records) == 3 + 3 + 3 + 1 + 3 + 3 and all(r.score > 0 for r in records)
    assert len({r.meta["prompt_id"] for r in records}) == 6


def test_the_estimate_prices_the_judges_requests_at_the_judges_own_price(tmp_path):
    """gpt-4o judging gpt-4o-mini's answers: the judgements cost gpt-4o's price, not the answerer's."""
    pytest.importorskip("factory_ko")
    recipe = str(REPO / "recipes" / "ko-preference.yaml")
    common = ["--estimate", "--out", str(tmp_path / "run"), "--set", "method.target=10"]
    env = {"OPENAI_API_KEY": "sk-test"}
    cheap_judge = run_cli("run", recipe, *common, "--set", "method.judge.model=gpt-4o-mini", cwd=REPO, env=env)
    dear_judge = run_cli("run", recipe, *common, cwd=REPO, env=env)
    assert cheap_judge.returncode == 0 and dear_judge.returncode == 0, cheap_judge.stderr + dear_judge.stderr

    def figures(out: str) -> tuple[float, float, str]:
        line = next(x for x in out.splitlines() if "estimated cost" in x)
        typical, most = (float(v) for v in re.findall(r"\$([0-9.]+)", line))
        return typical, most, next(x for x in out.splitlines() if "of which judge" in x)

    cheap, dear = figures(cheap_judge.stdout), figures(dear_judge.stdout)
    assert "openai:gpt-4o-mini@" in cheap[2] and "openai:gpt-4o@" in dear[2]
    # gpt-4o costs more than 10x gpt-4o-mini per token; only the judge's share changes between the two estimates
    assert dear[0] > cheap[0] * 1.5 and dear[1] > cheap[1] * 1.5
