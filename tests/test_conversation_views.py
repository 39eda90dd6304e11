"""Conversation export views: each loads with `datasets.load_dataset`, LLaMA-Factory's and axolotl's configs point
at the files written beside them, and the card describes turns and sources."""

from __future__ import annotations

import json

import pytest
import yaml

from factory.testing.helpers import run_cli

datasets = pytest.importorskip("datasets")


def _conversation(i: int) -> dict:
    return {"id": f"c{i}", "conversations": [
        {"from": "system", "value": "You are a patient tutor."},
        {"from": "human", "value": f"Explain fraction number {i} to me, please, like I am ten years old."},
        {"from": "gpt", "value": f"Imagine a pizza cut into {i + 2} equal slices; one slice is 1/{i + 2}."},
        {"from": "human", "value": f"And what about two slices out of {i + 2}?"},
        {"from": "gpt", "value": f"That is 2/{i + 2} of the pizza."}]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("views")
    _ = (tmp / "chats.jsonl").write_text("".join(json.dumps(_conversation(i)) + "\n" for i in range(8)))
    (tmp / "alpaca.json").write_text(json.dumps([{"instruction": "Name a prime number below ten.", "input": "",
                                                  "output": "Seven."}]))
    (tmp / "r.yaml").write_text("""name: tutor-chats
language: en
sources:
  - {path: chats.jsonl, format: sharegpt, name: tutor}
  - {path: alpaca.json, format: alpaca, name: alpaca}
conversations: {}
filters: []
export:
  test_size: 0.25
  views: [messages, sharegpt, llama-factory, axolotl]
""")
    result = run_cli("run", str(tmp / "r.yaml"), "--out", str(tmp / "tutor-chats"), "-q")
    assert result.returncode == 0, result.stderr
    return tmp / "tutor-chats"


def test_every_view_loads_with_datasets(run_dir):
    views = run_dir / "data" / "views"
    messages = datasets.load_dataset("json", data_files={"train": str(views / "messages" / "train.jsonl"),
                                                         "test": str(views / "messages" / "test.jsonl")})
    assert messages["train"].num_rows + messages["test"].num_rows == 9
    multi = next(row for row in messages["train"] if len(row["messages"]) == 5)
    assert [m["role"] for m in multi["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    sharegpt = datasets.load_dataset("json", data_files=str(views / "sharegpt" / "train.jsonl"), split="train")
    turns = next(row for row in sharegpt if len(row["conversations"]) == 5)["conversations"]
    assert [t["from"] for t in turns] == ["system", "human", "gpt", "human", "gpt"]
    assert sharegpt.num_rows == messages["train"].num_rows

    info = json.loads((views / "llama-factory" / "dataset_info.json").read_text())
    entry = info["tutor-chats"]
    assert entry["formatting"] == "sharegpt" and entry["tags"]["user_tag"] == "human"
    factory_rows = datasets.load_dataset("json", data_files=str(views / "llama-factory" / entry["file_name"]),
                                         split="train")
    assert factory_rows[0][entry["columns"]["messages"]][0][entry["tags"]["role_tag"]] in ("system", "human")
    assert info["tutor-chats_test"]["file_name"] == "test.json"

    snippet = yaml.safe_load((views / "axolotl" / "axolotl.yaml").read_text())
    train = snippet["datasets"][0]
    assert train["type"] == "chat_template" and train["roles_to_train"] == ["assistant"]
    rows = datasets.load_dataset("json", data_files=str(views / "axolotl" / train["path"]), split="train")
    assert set(rows.column_names) == {"id", train["field_messages"]}
    assert snippet["test_datasets"][0]["path"] == "test.jsonl"


def test_the_card_describes_turns_and_sources(run_dir):
    card = (run_dir / "data" / "README.md").read_text()
    assert "### Conversations" in card
    assert "9 conversations, 8 with more than one user turn" in card
    assert "| tutor | 8 |" in card and "| alpaca | 1 |" in card
    assert "`llama-factory`" in card and "`axolotl`" in card
