"""Export of a run folder to a Hugging Face dataset folder (factory.export)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.errors import UserError
from factory.export import export_run, meta_kind, meta_schema
from factory.testing.sample_run import sample_records, write_sample_run
from factory.testing.helpers import read_journal_rows

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def load(folder: Path, tmp_path: Path):
    return datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"))


def accepted_lines(run: Path) -> list[dict]:
    return read_journal_rows(run / "accepted.jsonl")


def test_load_dataset_gives_splits_columns_and_counts_of_stats(tmp_path):
    run = write_sample_run(tmp_path / "run")
    summary = export_run(run, test_size=0.25, seed=3)
    stats = json.loads((run / "stats.json").read_text(encoding="utf-8"))

    loaded = load(summary.folder, tmp_path)

    assert set(loaded) == {"train", "test"}
    assert {name: len(split) for name, split in loaded.items()} == summary.splits
    assert len(loaded["train"]) + len(loaded["test"]) == stats["accepted"] == stats["stages"]["generate"]["accepted"]
    assert len(loaded["test"]) == round(stats["accepted"] * 0.25)
    for split in loaded.values():
        assert split.column_names == ["id", "messages", "instruction", "input", "output", "meta"]
    train_ids, test_ids = set(loaded["train"]["id"]), set(loaded["test"]["id"])
    assert not train_ids & test_ids
    assert train_ids | test_ids == {r["id"] for r in accepted_lines(run)}


def _with_mixed_meta(run):
    """Give the journal's records meta values of every kind the exporter must type (as plugins may write)."""
    lines = []
    for i, record in enumerate(json.loads(line) for line in (run / "accepted.jsonl").read_text("utf-8").splitlines()):
        meta = {"source": "seed" if i < 2 else "generated", "rouge_max": round(0.1 + i * 0.03, 3),
                "batch": i // 4, "regenerated": i % 3 == 0}
        if i % 2:
            meta["most_similar"] = [f"seed_task_{i}", f"seed_task_{i + 1}"]  # a list: stored JSON-encoded
        if i % 5 == 0:
            meta["note"] = 3 if i == 0 else "짧음"  # mixed int and str: JSON-encoded too
        lines.append(json.dumps({**record, "meta": meta}, ensure_ascii=False) + "\n")
    (run / "accepted.jsonl").write_text("".join(lines), encoding="utf-8")
    return run


def test_rows_keep_korean_text_and_meta_types_are_fixed(tmp_path):
    run = _with_mixed_meta(write_sample_run(tmp_path / "run"))
    summary = export_run(run)
    loaded = load(summary.folder, tmp_path)["train"]
    originals = {r["id"]: r for r in accepted_lines(run)}

    assert summary.meta_fields == {"batch": "int64", "most_similar": "json", "note": "json", "regenerated": "bool",
                                   "rouge_max": "float64", "source": "string"}
    meta_features = loaded.features["meta"]
    assert {k: v.dtype for k, v in meta_features.items()} == {
        "batch": "int64", "most_similar": "string", "note": "string", "regenerated": "bool",
        "rouge_max": "float64", "source": "string"}
    for row in loaded:
        original = originals[row["id"]]
        assert (row["instruction"], row["input"], row["output"]) == (
            original["instruction"], original["input"], original["output"])
        meta = original["meta"]
        assert row["meta"]["rouge_max"] == pytest.approx(meta["rouge_max"])
        assert row["meta"]["regenerated"] is meta["regenerated"]
        # JSON-encoded kinds decode back to the original value; absent keys are null
        expected_similar = meta.get("most_similar")
        assert (json.loads(row["meta"]["most_similar"]) if row["meta"]["most_similar"] else None) == expected_similar
        assert (json.loads(row["meta"]["note"]) if row["meta"]["note"] is not None else None) == meta.get("note")
    # the JSONL holds the very same rows
    jsonl = [json.loads(line) for line in (summary.folder / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert jsonl == loaded.to_list()


def test_export_is_deterministic_and_the_split_follows_the_seed(tmp_path):
    run = write_sample_run(tmp_path / "run")
    first = export_run(run, test_size=4, seed=1)
    snapshot = {name: (first.folder / name).read_bytes() for name in first.files}
    second = export_run(run, test_size=4, seed=1)
    assert second.files == first.files
    assert {name: (second.folder / name).read_bytes() for name in second.files} == snapshot

    test_ids_seed1 = [json.loads(line)["id"] for line in (run / "data" / "test.jsonl").read_text().splitlines()]
    export_run(run, test_size=4, seed=2)
    test_ids_seed2 = [json.loads(line)["id"] for line in (run / "data" / "test.jsonl").read_text().splitlines()]
    assert len(test_ids_seed1) == len(test_ids_seed2) == 4
    assert test_ids_seed1 != test_ids_seed2
    # both splits keep the accepted file's order
    order = [r["id"] for r in sample_records(run)]
    assert test_ids_seed2 == sorted(test_ids_seed2, key=order.index)


def test_reexport_without_test_split_removes_stale_files(tmp_path):
    run = write_sample_run(tmp_path / "run")
    export_run(run, test_size=0.5)
    assert (run / "data" / "test-00000-of-00001.parquet").exists()
    summary = export_run(run)
    assert summary.files == ["README.md", "recipe.yaml", "stats.json", "train-00000-of-00001.parquet", "train.jsonl"]
    assert set(load(summary.folder, tmp_path)) == {"train"}


def test_jsonl_only_without_meta(tmp_path):
    run = write_sample_run(tmp_path / "run")
    summary = export_run(run, keep_meta=False, formats=["jsonl"])
    assert not any(name.endswith(".parquet") for name in summary.files)
    assert summary.columns == ["id", "messages", "instruction", "input", "output"]
    loaded = load(summary.folder, tmp_path)
    assert loaded["train"].column_names == ["id", "messages", "instruction", "input", "output"]
    assert len(loaded["train"]) == len(sample_records(run))


def test_meta_kinds():
    assert meta_kind([True, None, False]) == "bool"
    assert meta_kind([1, 2]) == "int64"
    assert meta_kind([1, 2.5]) == "float64"
    assert meta_kind(["a", None]) == "string"
    assert meta_kind([1, "a"]) == "json"
    assert meta_kind([True, 1]) == "json"  # bool is not a number here
    assert meta_kind([["a"], ["b"]]) == "json"
    assert meta_schema([{"b": 1}, {"a": "x"}]) == {"a": "string", "b": "int64"}


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ('{"id": "a", "instruction": "x"}\n{broken\n', {}, "accepted.jsonl:2: not valid JSON"),
        ("", {}, "no accepted records"),
        ('{"instruction": "x", "meta": [1]}\n', {}, "accepted.jsonl:1: 'meta' must be an object"),
        ('{"instruction": "x"}\n{"instruction": "y"}\n', {"test_size": 1.5}, "test_size"),
        ('{"instruction": "x"}\n{"instruction": "y"}\n', {"test_size": 2}, "leaves no training rows"),
        ('{"instruction": "x"}\n', {"formats": ["csv"]}, "export formats"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, content, kwargs, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / "accepted.jsonl").write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as info:
        export_run(run, **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_accepted_file(tmp_path):
    with pytest.raises(UserError, match="accepted.jsonl: file not found"):
        export_run(tmp_path)
