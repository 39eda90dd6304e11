"""Sources a conversational recipe starts from: ShareGPT, OpenAI messages, Alpaca, Parquet and dataset folders,
one alone or several mixed (`sources:`) with a limit, a weight and a name kept in meta."""

from __future__ import annotations

import json

import pytest

from factory.formats import load_source
from factory.testing.helpers import run_cli

datasets = pytest.importorskip("datasets")

MESSAGES = [{"id": f"m{i}", "messages": [{"role": "user", "content": f"Question number {i} about the weather today?"},
                                          {"role": "assistant", "content": f"Answer number {i}: it is sunny."}]}
            for i in range(4)]
ALPACA = [{"instruction": f"Name a colour that starts with letter {c}.", "input": "", "output": f"{c}-colour"}
          for c in "ABCDEFGH"]
SHAREGPT = [{"id": f"s{i}", "conversations": [{"from": "human", "value": f"Tell me a fact about the number {i}."},
                                              {"from": "gpt", "value": f"{i} is a number."},
                                              {"from": "human", "value": "And another one?"},
                                              {"from": "gpt", "value": f"{i} comes after {i - 1}."}]}
            for i in range(3)]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_each_file_kind_loads_into_the_record(tmp_path):
    parquet = tmp_path / "sg.parquet"
    datasets.Dataset.from_list(SHAREGPT).to_parquet(str(parquet))
    folder = tmp_path / "saved"
    datasets.Dataset.from_list(MESSAGES).save_to_disk(str(folder))
    parquet_folder = tmp_path / "pq"
    parquet_folder.mkdir()
    datasets.Dataset.from_list(ALPACA).to_parquet(str(parquet_folder / "part-0.parquet"))
    (tmp_path / "alpaca.json").write_text(json.dumps(ALPACA), encoding="utf-8")

    from_parquet = load_source(parquet)
    assert [m["role"] for m in from_parquet[0].messages] == ["user", "assistant", "user", "assistant"]
    assert from_parquet[2].messages[3]["content"] == "2 comes after 1."
    assert [r.messages for r in load_source(folder)] == [r["messages"] for r in MESSAGES]
    assert [r.instruction for r in load_source(parquet_folder)] == [r["instruction"] for r in ALPACA]
    assert [r.output for r in load_source(tmp_path / "alpaca.json", "alpaca")] == [r["output"] for r in ALPACA]
    assert load_source(_jsonl(tmp_path / "m.jsonl", MESSAGES), "messages")[1].id == "m1"


def test_a_malformed_row_is_kept_for_rejection_only_when_asked(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [SHAREGPT[0], {"id": "x", "conversations": [{"from": "robot", "value": "hi"}]}])
    from factory.errors import UserError

    with pytest.raises(UserError, match=r"bad.jsonl:2: conversations\[0\].from: unknown speaker 'robot'"):
        load_source(path, "sharegpt")
    records = load_source(path, "sharegpt", on_error="reject")
    assert records[1].id == "x" and "unknown speaker" in records[1].meta["row_error"]


def test_a_mix_of_sources_keeps_names_limits_and_weights(tmp_path):
    parquet = tmp_path / "sg.parquet"
    datasets.Dataset.from_list(SHAREGPT).to_parquet(str(parquet))
    _jsonl(tmp_path / "msgs.jsonl", MESSAGES)
    (tmp_path / "alpaca.json").write_text(json.dumps(ALPACA), encoding="utf-8")
    recipe = tmp_path / "mix.yaml"
    recipe.write_text(f"""name: mix
language: en
sources:
  - {{path: {parquet}, name: sharegpt}}
  - {{path: msgs.jsonl, format: messages, limit: 2}}
  - {{path: alpaca.json, format: alpaca, weight: 0.5, name: alpaca}}
conversations: {{}}
filters: []
export: {{formats: [jsonl]}}
""", encoding="utf-8")
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == 0, result.stderr
    kept = [json.loads(line) for line in (tmp_path / "run" / "accepted.jsonl").read_text().splitlines()]
    names = [row["meta"]["source_name"] for row in kept]
    assert names == ["sharegpt"] * 3 + ["msgs"] * 2 + ["alpaca"] * 4
    alpaca = [row["messages"][0]["content"] for row in kept if row["meta"]["source_name"] == "alpaca"]
    assert len(set(alpaca)) == 4 and set(alpaca) <= {r["instruction"] for r in ALPACA}
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert [s["used"] for s in stats["provenance"]["source"]["sources"]] == [3, 2, 4]
    # the same seed picks the same half again
    again = run_cli("run", str(recipe), "--out", str(tmp_path / "again"), "-q")
    assert again.returncode == 0
    assert (tmp_path / "again" / "accepted.jsonl").read_text() == (tmp_path / "run" / "accepted.jsonl").read_text()


def test_bad_sources_are_one_located_line_each(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: bad\nlanguage: en\nsources:\n  - {path: nowhere.jsonl}\n  - {path: x.jsonl, weight: 3}\n",
                      encoding="utf-8")
    (tmp_path / "x.jsonl").write_text(json.dumps(ALPACA[0]) + "\n")
    result = run_cli("validate", str(recipe))
    assert result.returncode != 0
    assert "bad.yaml:5:" in result.stderr and "sources.1.weight" in result.stderr
    assert "Traceback" not in result.stderr
    both = tmp_path / "both.yaml"
    both.write_text("name: both\nlanguage: en\nsource: {path: x.jsonl}\nsources:\n  - {path: x.jsonl}\n")
    result = run_cli("validate", str(both))
    assert result.returncode != 0 and "not both" in result.stderr
