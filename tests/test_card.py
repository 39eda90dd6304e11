"""The dataset card (factory.card) as written by an export."""

from __future__ import annotations

import json

import pytest
import yaml

from factory import __version__
from factory.card import BEGIN, END, split_front_matter
from factory.export import export_run
from factory.records import Record
from factory.secrets_scan import scan_paths
from factory.testing.sample_run import SAMPLE_RECIPE, sample_manifest, sample_records, write_sample_run

datasets = pytest.importorskip("datasets")

FAKE_ENV_SECRET = "zq81-Fake-Secret-Value-77"
FAKE_OPENAI_KEY = "sk-proj-" + "Q7" * 20


def read_card(folder):
    return split_front_matter((folder / "README.md").read_text(encoding="utf-8"))


def test_korean_card_metadata(tmp_path):
    run = write_sample_run(tmp_path / "run")
    summary = export_run(run, test_size=0.25)
    text = (summary.folder / "README.md").read_text(encoding="utf-8")
    meta, _ = read_card(summary.folder)

    assert "\nlanguage: ko\n" in text
    assert meta["language"] == "ko"
    assert meta["license"] == "other"
    assert meta["task_categories"] == ["text-generation"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["source_datasets"] == ["original"]
    assert {"synthetic", "self-instruct"} <= set(meta["tags"])
    assert meta["pretty_name"] == "Ko Sample"
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train-00000-of-00001.parquet"},
        {"split": "test", "path": "test-00000-of-00001.parquet"}]}]
    splits = {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]}
    assert splits == summary.splits
    assert sum(splits.values()) == sample_manifest(run).accepted


def test_korean_card_body_has_full_provenance(tmp_path):
    run = write_sample_run(tmp_path / "run")
    summary = export_run(run)
    _, body = read_card(summary.folder)
    manifest = sample_manifest(run)
    prov = manifest.provenance

    expected = [
        prov.method, prov.teacher.model, prov.teacher.endpoint_kind, prov.teacher.plugin,
        prov.seed_set["path"], prov.seed_set["sha256"], prov.prompt_sha256,
        "| near_duplicate.threshold | 0.7 |", "| length.max_words | 125 |",
        manifest.started_at, manifest.finished_at, f"factory {prov.factory_version}",
        "| translator | none |", f"{manifest.totals.prompt_tokens:,}", f"{manifest.totals.completion_tokens:,}",
        f"${manifest.totals.cost_usd:,.4f}", SAMPLE_RECIPE["description"],
        "## Known limitations", "## License note", "terms of use",
        "| messages | list of {role, content} |",
    ]
    for needle in expected:
        assert needle in body, needle
    assert manifest.rejections and manifest.totals.cost_usd > 0
    for reason, count in manifest.rejections.items():
        assert f"| {reason} | {count} |" in body
    # a few sample records, verbatim
    first = Record.from_dict(sample_records(run)[0])
    assert json.dumps(first.instruction, ensure_ascii=False) in body
    assert body.count("```json") == 3
    assert body.count(BEGIN) == 1 and body.count(END) == 1


def test_translator_provenance_and_license_note(tmp_path):
    source = tmp_path / "alpaca.json"
    source.write_text(json.dumps([{"instruction": f"Name {n} colours of the rainbow.", "input": "", "output": "Red."}
                                  for n in ("two", "three", "four")]), encoding="utf-8")
    run = write_sample_run(tmp_path / "run", recipe={
        "method": None, "source": {"path": str(source), "hub_dataset": None},
        "translate": {"plugin": "llm", "source_lang": "en",
                      "teacher": {"plugin": "fake", "model": "ko-translator", "responder": "echo"}},
        # the echo teacher hands every text back as it was: translation QA would drop them all as untranslated
        "filters": {"script_check": False, "translation_qa": False, "similarity": {"enabled": False}}})
    manifest = sample_manifest(run)
    assert manifest.provenance.translator.plugin == "llm"
    summary = export_run(run)
    meta, body = read_card(summary.folder)
    assert "machine-translated" in meta["tags"]
    assert "machine-translated with llm" in body
    assert "| translator engine | llm (fake:ko-translator) |" in body
    assert "| translation target_lang | ko |" in body
    assert "Translations were made with llm" in body


def test_no_secret_in_any_exported_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_TEST_API_KEY", FAKE_ENV_SECRET)
    run = write_sample_run(tmp_path / "run", recipe={"description": f"made with key {FAKE_ENV_SECRET}"})
    # a manifest and recipe carrying secrets (a person edited them, or an older tool wrote them): export scrubs both
    stats = json.loads((run / "stats.json").read_text(encoding="utf-8"))
    stats["provenance"]["teacher"]["api_key"] = FAKE_OPENAI_KEY
    stats["provenance"]["teacher"]["endpoint"] = f"https://user:{FAKE_ENV_SECRET}@example.invalid/v1"
    stats["hf_token"] = "hf_" + "x1" * 20
    (run / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    recipe = yaml.safe_load((run / "recipe.yaml").read_text(encoding="utf-8"))
    recipe["teacher"] = {"plugin": "openai", "model": "gpt-4o-mini", "api_key": FAKE_OPENAI_KEY,
                         "api_key_env": "OPENAI_API_KEY"}
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    summary = export_run(run)

    for name in summary.files:
        data = (summary.folder / name).read_bytes()
        assert FAKE_ENV_SECRET.encode() not in data, name
        assert FAKE_OPENAI_KEY.encode() not in data, name
        assert b"hf_x1x1" not in data, name
    assert scan_paths([summary.folder]) == []
    recipe = yaml.safe_load((summary.folder / "recipe.yaml").read_text(encoding="utf-8"))
    assert "api_key" not in recipe["teacher"]
    assert recipe["teacher"]["api_key_env"] == "OPENAI_API_KEY"  # the variable's name is not a secret
    exported_stats = json.loads((summary.folder / "stats.json").read_text(encoding="utf-8"))
    assert "api_key" not in exported_stats["provenance"]["teacher"]
    assert exported_stats["totals"]["prompt_tokens"] == stats["totals"]["prompt_tokens"] > 0  # counts survive


def test_merges_with_the_card_datasets_writes(tmp_path):
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    run = write_sample_run(tmp_path / "run")
    folder = run / "data"
    folder.mkdir()
    dataset = datasets.Dataset.from_list([{"instruction": "x", "output": "y"}])
    card_data = DatasetCardData(license="cc-by-4.0", annotations_creators=["machine-generated"], tags=["korean"])
    DatasetInfosDict({"default": dataset.info}).to_dataset_card_data(card_data)
    MetadataConfigs({"default": {"data_files": [{"split": "train", "path": "data/train-*"}]}}).to_dataset_card_data(
        card_data)
    (folder / "README.md").write_text(f"---\n{card_data.to_yaml()}\n---\n\n# Notes\n\nWritten by a person.\n",
                                      encoding="utf-8")

    summary = export_run(run)
    meta, body = read_card(folder)
    assert meta["license"] == "cc-by-4.0"  # theirs: the recipe does not set one
    assert meta["annotations_creators"] == ["machine-generated"]
    assert meta["tags"][0] == "korean" and "synthetic" in meta["tags"]
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "train-00000-of-00001.parquet"}]
    assert meta["dataset_info"]["splits"] == [{"name": "train", "num_bytes": meta["dataset_info"]["splits"][0]
                                               ["num_bytes"], "num_examples": summary.splits["train"]}]
    assert "Written by a person." in body and BEGIN in body

    # merging again is a fixed point, and an explicit recipe license is ours
    before = (folder / "README.md").read_bytes()
    export_run(run)
    assert (folder / "README.md").read_bytes() == before
    (run / "recipe.yaml").write_text(yaml.safe_dump({**SAMPLE_RECIPE, "export": {"license": "cc-by-nc-4.0"}}),
                                     encoding="utf-8")
    export_run(run)
    meta, body = read_card(folder)
    assert meta["license"] == "cc-by-nc-4.0"
    assert body.count(BEGIN) == 1 and "Written by a person." in body


def test_card_without_stats_or_recipe(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "accepted.jsonl").write_text(json.dumps({"instruction": "인사말을 써 주세요.", "output": "안녕하세요."},
                                                   ensure_ascii=False) + "\n", encoding="utf-8")
    summary = export_run(run)
    assert summary.files == ["README.md", "train-00000-of-00001.parquet", "train.jsonl"]
    assert summary.columns == ["id", "messages", "instruction", "input", "output"]  # no meta keys at all: no meta column
    meta, body = read_card(summary.folder)
    assert "language" not in meta
    assert meta["size_categories"] == ["n<1K"]
    assert f"factory {__version__}" in body
    assert "The run recorded no usage." in body


def test_spend_of_requests_in_flight_at_a_kill_is_shown_apart_as_estimated(tmp_path):
    run = write_sample_run(tmp_path / "run")
    stats_path = run / "stats.json"
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    plain = export_run(run)
    _, body = read_card(plain.folder)
    assert "estimated (USD)" not in body  # nothing was in flight at a kill: one cost column

    stage = next(iter(stats["usage"]))
    stats["usage"][stage]["estimated_usd"] = 0.0123
    stats["totals"]["estimated_usd"] = 0.0123
    stats_path.write_text(json.dumps(stats), encoding="utf-8")
    summary = export_run(run)
    _, body = read_card(summary.folder)
    assert "estimated (USD)" in body and "in flight when a run was killed" in body
    usage = body.split("### Usage and cost", 1)[1].split("\n#", 1)[0].splitlines()
    row = next(line for line in usage if line.startswith(f"| {stage} |"))
    total = next(line for line in usage if line.startswith("| **total** |"))
    assert row.rstrip(" |").endswith("0.0123") and total.rstrip(" |").endswith("0.0123")
