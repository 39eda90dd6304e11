"""The ``votes`` (StackLLaMA) and ``oasst`` (OpenAssistant) source formats on small files in their real layouts, and
the preference export views (TRL preference and unpaired, LLaMA-Factory ranking) read back by ``datasets``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from factory.errors import UserError
from factory.formats import load_source, source_format_names
from factory.testing.helpers import run_cli

QUESTIONS = [
    {"qid": 101, "question": "How do I undo the last git commit but keep my changes?",
     "answers": [{"text": "Run git reset --soft HEAD~1.", "votes": 1500, "accepted": True},
                 {"text": "Use git revert HEAD.", "votes": 40},
                 {"text": "Delete the .git folder.", "votes": -3},
                 {"text": "git reset HEAD~1 keeps them unstaged.", "votes": 40}]},
    {"qid": 102, "question": "What does `yield` do in Python?",
     "answers": [{"body": "It makes the function a generator.", "score": 7},
                 {"body": "It returns a value.", "score": 0}]},
    {"qid": 103, "question": "Only one answer here?", "answers": [{"text": "Yes.", "votes": 3}]},
]

# an OpenAssistant export: one message a line (message_id, parent_id, role, text, rank, ...)
OASST = [
    {"message_id": "r1", "parent_id": None, "role": "prompter", "text": "Explain photosynthesis simply.", "lang": "en",
     "rank": None, "deleted": False, "review_result": True, "message_tree_id": "r1"},
    {"message_id": "a1", "parent_id": "r1", "role": "assistant", "text": "Plants turn light, water and CO2 into sugar.",
     "rank": 0, "deleted": False, "review_result": True, "message_tree_id": "r1"},
    {"message_id": "a2", "parent_id": "r1", "role": "assistant", "text": "It is a plant thing.", "rank": 2,
     "deleted": False, "review_result": True, "message_tree_id": "r1"},
    {"message_id": "a3", "parent_id": "r1", "role": "assistant", "text": "Light energy becomes chemical energy.",
     "rank": 1, "deleted": False, "review_result": True, "message_tree_id": "r1"},
    {"message_id": "a4", "parent_id": "r1", "role": "assistant", "text": "spam", "rank": None, "deleted": True,
     "review_result": True, "message_tree_id": "r1"},
    {"message_id": "p2", "parent_id": "a1", "role": "prompter", "text": "Where does the oxygen come from?",
     "rank": 0, "deleted": False, "review_result": True, "message_tree_id": "r1"},
    {"message_id": "b1", "parent_id": "p2", "role": "assistant", "text": "From splitting water molecules.", "rank": 0,
     "deleted": False, "review_result": True, "message_tree_id": "r1"},
    {"message_id": "b2", "parent_id": "p2", "role": "assistant", "text": "From the soil.", "rank": 1,
     "deleted": False, "review_result": True, "message_tree_id": "r1"},
    {"message_id": "p3", "parent_id": "a2", "role": "prompter", "text": "That is not helpful.", "rank": None,
     "deleted": False, "review_result": False, "message_tree_id": "r1"},
    {"message_id": "r2", "parent_id": None, "role": "prompter", "text": "Hi!", "rank": None, "deleted": False,
     "review_result": True, "message_tree_id": "r2"},
    {"message_id": "c1", "parent_id": "r2", "role": "assistant", "text": "Hello! How can I help?", "rank": None,
     "deleted": False, "review_result": True, "message_tree_id": "r2"},
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_votes_scores_answers_as_stackllama_and_pairs_higher_over_lower(tmp_path):
    from factory.preference_sources import MAX_PAIRS_PER_QUESTION, vote_score

    assert vote_score(0) == 0 and vote_score(1) == 1 and vote_score(1500) == round(math.log2(1501)) == 11
    assert vote_score(-3) == -1 and vote_score(40, accepted=True) == round(math.log2(41)) + 1
    records = load_source(_jsonl(tmp_path / "se.jsonl", QUESTIONS), "votes")
    first = [r for r in records if r.meta["prompt_id"] == "101"]
    # four answers, two tied at 40 votes: 6 combinations minus the tie = 5 pairs, the widest gap first
    assert len(first) == 5
    assert (first[0].chosen, first[0].rejected) == ("Run git reset --soft HEAD~1.", "Delete the .git folder.")
    assert first[0].score == 12 + 1  # (11 + 1 accepted) - (-1)
    assert all(r.meta["preference"]["chosen"]["score"] > r.meta["preference"]["rejected"]["score"] for r in first)
    assert not any({r.chosen, r.rejected} == {"Use git revert HEAD.", "git reset HEAD~1 keeps them unstaged."}
                   for r in first)
    assert [(r.chosen, r.rejected) for r in records if r.meta["prompt_id"] == "102"] == [
        ("It makes the function a generator.", "It returns a value.")]
    assert not [r for r in records if r.meta["prompt_id"] == "103"]  # one answer makes no pair
    assert all(r.messages == [{"role": "user", "content": q["question"]}] for q in QUESTIONS[:1]
               for r in first)
    many = {"qid": 7, "question": "Q?", "answers": [{"text": f"a{i}", "votes": 2 ** i} for i in range(8)]}
    assert len(load_source(_jsonl(tmp_path / "many.jsonl", [many]), "votes")) == MAX_PAIRS_PER_QUESTION
    assert {"votes", "oasst", "oasst-sft"} <= set(source_format_names())


def test_votes_bad_input_names_the_file_line_and_field(tmp_path):
    bad = _jsonl(tmp_path / "bad.jsonl", [QUESTIONS[0], {"question": "Q?", "answers": [{"text": "x", "votes": "many"}]}])
    with pytest.raises(UserError, match=r"bad.jsonl:2: answers\[0\]: needs an integer 'votes'"):
        load_source(bad, "votes")
    with pytest.raises(UserError, match=r"q.jsonl:1: needs a non-empty 'question'"):
        load_source(_jsonl(tmp_path / "q.jsonl", [{"answers": []}]), "votes")


def test_oasst_gives_ranked_pairs_at_each_branching_point_and_the_best_path(tmp_path):
    path = _jsonl(tmp_path / "oasst.jsonl", OASST)
    pairs = load_source(path, "oasst")
    at_root = [r for r in pairs if r.meta["prompt_id"] == "r1"]
    assert [(r.chosen, r.rejected) for r in at_root] == [
        ("Plants turn light, water and CO2 into sugar.", "It is a plant thing."),  # ranks 0 vs 2 (widest first)
        ("Plants turn light, water and CO2 into sugar.", "Light energy becomes chemical energy."),
        ("Light energy becomes chemical energy.", "It is a plant thing.")]
    assert all(r.messages == [{"role": "user", "content": "Explain photosynthesis simply."}] for r in at_root)
    (deeper,) = [r for r in pairs if r.meta["prompt_id"] == "p2"]
    assert [m["role"] for m in deeper.messages] == ["user", "assistant", "user"]  # the conversation so far
    assert (deeper.chosen, deeper.rejected) == ("From splitting water molecules.", "From the soil.")
    assert "spam" not in json.dumps([r.to_dict() for r in pairs])  # deleted messages are left out
    paths = load_source(path, "oasst-sft")
    assert [[m["content"] for m in r.messages] for r in paths] == [
        ["Explain photosynthesis simply.", "Plants turn light, water and CO2 into sugar.",
         "Where does the oxygen come from?", "From splitting water molecules."],
        ["Hi!", "Hello! How can I help?"]]
    with pytest.raises(UserError, match=r"o.jsonl:1: role must be prompter or assistant"):
        load_source(_jsonl(tmp_path / "o.jsonl", [{"message_id": "x", "role": "bot", "text": "hi"}]), "oasst")


def test_votes_recipe_exports_every_preference_view_and_datasets_reads_each(tmp_path):
    datasets = pytest.importorskip("datasets")
    source = _jsonl(tmp_path / "se.jsonl", QUESTIONS)
    recipe = tmp_path / "votes.yaml"
    recipe.write_text(f"name: votes\nlanguage: en\nsource: {{path: {source}, format: votes}}\nfilters: []\n"
                      "export:\n  test_size: 0.0\n  views: [trl-preference, trl-preference-plain, trl-unpaired, "
                      "llama-factory-ranking]\n", encoding="utf-8")
    done = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
    assert done.returncode == 0, done.stderr
    views = tmp_path / "run" / "data" / "views"
    pref = datasets.load_dataset("json", data_files=str(views / "trl-preference" / "train.jsonl"))["train"]
    assert pref.num_rows == 6 and pref.column_names == ["prompt", "chosen", "rejected"]
    assert pref[0]["prompt"] == [{"role": "user", "content": QUESTIONS[0]["question"]}]
    assert pref[0]["chosen"] == [{"role": "assistant", "content": "Run git reset --soft HEAD~1."}]
    plain = datasets.load_dataset("json", data_files=str(views / "trl-preference-plain" / "train.jsonl"))["train"]
    assert plain[0]["prompt"] == QUESTIONS[0]["question"] and plain[0]["rejected"] == "Delete the .git folder."
    unpaired = datasets.load_dataset("json", data_files=str(views / "trl-unpaired" / "train.jsonl"))["train"]
    assert unpaired.num_rows == 12 and unpaired["label"] == [True, False] * 6
    info = json.loads((views / "llama-factory-ranking" / "dataset_info.json").read_text())
    entry = info["factory_train"]
    assert entry["ranking"] is True and entry["formatting"] == "sharegpt"
    ranking = datasets.load_dataset("json", data_files=str(views / "llama-factory-ranking" / entry["file_name"]))["train"]
    assert ranking.num_rows == 6 and ranking[0]["chosen"] == {"from": "gpt", "value": "Run git reset --soft HEAD~1."}
    assert ranking[0]["conversations"] == [{"from": "human", "value": QUESTIONS[0]["question"]}]
    main = datasets.load_dataset(str(tmp_path / "run" / "data"))["train"]
    assert main.num_rows == 6 and {"chosen", "rejected", "score"} <= set(main.column_names)
