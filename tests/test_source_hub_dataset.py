"""`source.hub_dataset` loads through `datasets.load_dataset`; offline it works on a dataset folder,
and an id that cannot be loaded is one clear line."""

from __future__ import annotations

import json

import pytest

from factory.testing.helpers import run_cli
from factory.testing.helpers import read_journal_rows

pytest.importorskip("datasets")


def test_a_dataset_folder_feeds_a_source_recipe(tmp_path):
    rows = [{"instruction": f"Give one fact about the planet {p} that a child would enjoy.", "output": f"{p} is a planet."}
            for p in ("Mercury", "Venus", "Mars")]
    first_in = tmp_path / "in.jsonl"
    first_in.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "a.yaml").write_text(f"name: a\nlanguage: en\nsource:\n  path: {first_in}\n"
                                     "filters:\n  similarity:\n    enabled: false\n")
    assert run_cli("run", str(tmp_path / "a.yaml"), "--out", str(tmp_path / "a"), "-q").returncode == 0
    (tmp_path / "b.yaml").write_text(f"name: b\nlanguage: en\nsource:\n  hub_dataset: {tmp_path / 'a' / 'data'}\n  limit: 2\n"
                                     "filters:\n  similarity:\n    enabled: false\nexport:\n  enabled: false\n")
    result = run_cli("run", str(tmp_path / "b.yaml"), "--out", str(tmp_path / "b"), "-q")
    assert result.returncode == 0, result.stderr
    kept = [r["instruction"] for r in read_journal_rows(tmp_path / "b" / "accepted.jsonl")]
    assert kept == [r["instruction"] for r in rows[:2]]


def test_an_unloadable_dataset_id_is_one_line(tmp_path):
    (tmp_path / "c.yaml").write_text("name: c\nlanguage: en\nsource:\n  hub_dataset: nobody/no-such-dataset-xyz\n")
    result = run_cli("run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "c"), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    assert "source.hub_dataset: could not load 'nobody/no-such-dataset-xyz'" in result.stderr
    assert "Traceback" not in result.stderr
