"""The shipped conversation recipes validate with the overrides docs/conversations.md shows, and each runs end to
end offline (loopback teacher and DeepL where it needs one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.testing.helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
DATA = REPO / "tests" / "data"

pytest.importorskip("lingua")
pytest.importorskip("markdownify")

OVERRIDES = {
    "vicuna-sharegpt": [f"source.path={DATA / 'sharegpt_small.json'}", "language=ko", "conversations.max_tokens=512"],
    "kovicuna": [f"source.path={DATA / 'sharegpt_small.json'}", "conversations.max_tokens=1024", "language=ko"],
    "koala-mix": [f"sources.0.path={DATA / 'sharegpt_small.json'}", "conversations.max_tokens=4096", "language=en"],
    "baize-self-chat-ko": ["method.target=50", "language=ko", f"method.seeds={DATA / 'ko_questions.jsonl'}"],
    "gpt4all-distill": ["method.target=10", "language=ko", f"method.seeds={DATA / 'ko_questions.jsonl'}"],
}


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_each_recipe_validates_as_shipped_and_with_its_overrides(name):
    recipe = RECIPES / f"{name}.yaml"
    plain = run_cli("validate", str(recipe))
    assert plain.returncode == 0, plain.stderr
    args = [part for item in OVERRIDES[name] for part in ("--set", item)]
    overridden = run_cli("validate", str(recipe), *args)
    assert overridden.returncode == 0, overridden.stderr
    assert f"{recipe}: ok" in overridden.stdout


def test_a_bad_list_override_is_one_line():
    result = run_cli("validate", str(RECIPES / "koala-mix.yaml"), "--set", "sources.7.path=x.json")
    assert result.returncode != 0
    assert "--set sources.7.path=x.json: sources has no item 7 (it has 3)" in result.stderr
    assert "Traceback" not in result.stderr


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_vicuna_and_koala_recipes_run_offline(tmp_path):
    done = run_cli("run", str(RECIPES / "vicuna-sharegpt.yaml"), "--out", str(tmp_path / "vicuna"), "-q",
                   "--set", "train=null")
    assert done.returncode == 0, done.stderr
    assert {r["id"]: r["reason"] for r in _rows(tmp_path / "vicuna" / "rejected.jsonl")} == {
        "sg-5": "exact_duplicate", "sg-6": "empty_conversation", "sg-7": "no_assistant_turn"}
    assert (tmp_path / "vicuna" / "data" / "views" / "llama-factory" / "dataset_info.json").exists()
    done = run_cli("run", str(RECIPES / "koala-mix.yaml"), "--out", str(tmp_path / "koala"), "-q")
    assert done.returncode == 0, done.stderr
    names = {r["meta"]["source_name"] for r in _rows(tmp_path / "koala" / "accepted.jsonl")}
    assert names == {"sharegpt", "hc3", "alpaca"}


def test_baize_and_distill_recipes_run_on_the_loopback_teacher(tmp_path):
    from factory.testing.responders import conversation_responder
    from factory_openai.loopback import LoopbackOpenAI

    pytest.importorskip("factory_ko")
    with LoopbackOpenAI(conversation_responder) as server:
        common = ["--set", f"teacher.base_url={server.base_url}", "-q"]
        env = {"OPENAI_API_KEY": "sk-loopback"}
        done = run_cli("run", str(RECIPES / "baize-self-chat-ko.yaml"), "--out", str(tmp_path / "baize"),
                       "--set", "method.target=4", *common, env=env)
        assert done.returncode == 0, done.stderr
        done = run_cli("run", str(RECIPES / "gpt4all-distill.yaml"), "--out", str(tmp_path / "distill"),
                       "--set", "method.target=5", *common, env=env)
        assert done.returncode == 0, done.stderr
    chats = _rows(tmp_path / "baize" / "accepted.jsonl")
    assert len(chats) >= 4 and all(sum(m["role"] == "user" for m in c["messages"]) >= 2 for c in chats)
    answers = _rows(tmp_path / "distill" / "accepted.jsonl")
    assert len(answers) >= 5 and all([m["role"] for m in a["messages"]] == ["user", "assistant"] for a in answers)


def test_kovicuna_runs_on_the_deepl_loopback(tmp_path):
    pytest.importorskip("deepl")
    from factory_deepl.loopback import LoopbackDeepL

    with LoopbackDeepL() as server:
        done = run_cli("run", str(RECIPES / "kovicuna.yaml"), "--out", str(tmp_path / "ko"), "-q",
                       "--set", f"translate.server_url={server.server_url}", env={"DEEPL_AUTH_KEY": "loopback-key"})
        assert done.returncode == 0, done.stderr
    kept = _rows(tmp_path / "ko" / "accepted.jsonl")
    assert kept and all(r["meta"]["translation"]["fields"] == ["turns"] for r in kept)
    assert all(any("가" <= ch <= "힣" for ch in m["content"]) for r in kept for m in r["messages"])
