"""KoVicuna: English ShareGPT conversations translated into Korean turn by turn through the real `deepl` client
(loopback server), code protected in every turn, the cross-run cache paying each turn once."""

from __future__ import annotations

import json

import pytest

from factory.testing.helpers import run_cli

pytest.importorskip("deepl")
from factory_deepl.loopback import LoopbackDeepL, untranslate  # noqa: E402

CODE = "```python\nprint('hello')\n```"
CHATS = [
    {"id": "a", "conversations": [{"from": "human", "value": "How do I print a word in Python?"},
                                  {"from": "gpt", "value": f"Use the print function:\n\n{CODE}"},
                                  {"from": "human", "value": "And how do I print two words?"},
                                  {"from": "gpt", "value": "Pass both words to print, separated by a comma."}]},
    {"id": "b", "conversations": [{"from": "system", "value": "You are a friendly cook."},
                                  {"from": "human", "value": "What goes well with rice?"},
                                  {"from": "gpt", "value": "Grilled fish and a simple soup go well with rice."}]},
]

RECIPE = """\
name: kovicuna-test
language: ko
source:
  path: {path}
  format: sharegpt
conversations: {{}}
translate:
  plugin: deepl
  source_lang: en
  fields: [turns]
  auth_key_env: DEEPL_AUTH_KEY
  server_url: {url}
filters: []
export:
  enabled: false
"""


def test_every_turn_is_translated_on_its_own_with_code_kept_and_cached_across_runs(tmp_path):
    data = tmp_path / "sharegpt.jsonl"
    data.write_text("".join(json.dumps(c) + "\n" for c in CHATS), encoding="utf-8")
    with LoopbackDeepL() as server:
        recipe = tmp_path / "kovicuna.yaml"
        recipe.write_text(RECIPE.format(path=data, url=server.server_url), encoding="utf-8")
        env = {"DEEPL_AUTH_KEY": "loopback-key"}
        done = run_cli("run", str(recipe), "--out", str(tmp_path / "first"), "-q", env=env)
        assert done.returncode == 0, done.stderr
        sent = [text for request in server.requests for text in request.texts]
        again = run_cli("run", str(recipe), "--out", str(tmp_path / "second"), "-q", env=env)
        assert again.returncode == 0, again.stderr
        assert [t for r in server.requests for t in r.texts] == sent  # the second run sent nothing
    # one text per turn (the system prompt included), no text twice, no code sent
    turns = [t["value"] for c in CHATS for t in c["conversations"]]
    assert len(sent) == len(turns) and not any("print('hello')" in text for text in sent)
    kept = [json.loads(line) for line in (tmp_path / "first" / "accepted.jsonl").read_text().splitlines()]
    assert [r["id"] for r in kept] == ["a", "b"]
    for row, chat in zip(kept, CHATS):
        assert [m["role"] for m in row["messages"]] == [
            {"human": "user", "gpt": "assistant", "system": "system"}[t["from"]] for t in chat["conversations"]]
        for message, turn in zip(row["messages"], chat["conversations"]):
            assert untranslate(message["content"]) == turn["value"]
            assert any("가" <= ch <= "힣" for ch in message["content"])
        assert row["meta"]["translation"]["fields"] == ["turns"]
    assert CODE in kept[0]["messages"][1]["content"]  # the fence crossed the engine untouched
    second = [json.loads(line) for line in (tmp_path / "second" / "accepted.jsonl").read_text().splitlines()]
    assert [r["messages"] for r in second] == [r["messages"] for r in kept]


def test_turns_cannot_be_mixed_with_alpaca_fields(tmp_path):
    recipe = tmp_path / "bad.yaml"
    (tmp_path / "x.jsonl").write_text(json.dumps(CHATS[0]) + "\n")
    recipe.write_text("name: bad\nlanguage: ko\nsource: {path: x.jsonl}\n"
                      "translate: {plugin: deepl, fields: [turns, output]}\n")
    result = run_cli("validate", str(recipe))
    assert result.returncode != 0 and "turns translates whole conversations" in result.stderr
