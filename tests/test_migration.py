"""A run folder written by the previous factory (Alpaca journal lines, usage in state.json, identity
strings in stats.json): it still exports and reports, and resuming it names the fix."""

from __future__ import annotations

import json

from factory.export import export_run
from factory.manifest import RunManifest
from factory.testing.helpers import run_cli

OLD_STATS = {
    "recipe": "old", "language": "en", "status": "finished", "accepted": 2, "rejected": 0,
    "stages": {"generate": {"accepted": 2, "rejected": 0, "batches": 1, "seconds": 1.5}},
    "usage": {"generate": {"requests": 2, "prompt_tokens": 100, "completion_tokens": 50, "cost_usd": 0.001}},
    "totals": {"requests": 2, "prompt_tokens": 100, "completion_tokens": 50, "cost_usd": 0.001},
    "provenance": {"method": "self-instruct", "teacher": {"plugin": "openai", "identity": "openai:chat:gpt-4o-mini@api.openai.com"},
                   "translator": None, "filters": {"similarity": {"threshold": 0.7, "field": "instruction"}}},
}


def _old_run(tmp_path, en_seeds):
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"id": "a", "instruction": "Name two rivers.", "input": "", "output": "Han and Geum.", "meta": {}},
             {"id": "b", "instruction": "Add the numbers.", "input": "2 and 3", "output": "5", "meta": {}}]
    journal = "".join(json.dumps(line) + "\n" for line in lines)
    (run / "accepted.jsonl").write_text(journal)
    (run / "rejected.jsonl").write_text("")
    (run / "stats.json").write_text(json.dumps(OLD_STATS))
    (run / "state.json").write_text(json.dumps({
        "version": 1, "fingerprint": {"language": "en"}, "batches_done": 1, "accepted_bytes": len(journal.encode()),
        "rejected_bytes": 0, "accepted": 2, "rejected": 0, "stages_done": ["generate"],
        "counters": {"usage": OLD_STATS["usage"], "rejections": {}, "stage_seconds": {}, "extra": {}}}))
    recipe = tmp_path / "old.yaml"
    recipe.write_text(f"name: old\nlanguage: en\nmethod: {{seeds: {en_seeds}, target: 2}}\n"
                      "teacher: {plugin: openai, model: gpt-4o-mini, base_url: http://127.0.0.1:9/v1}\n")
    return run, recipe


def test_an_old_run_folder_exports_with_messages_and_names_the_fix_to_resume(tmp_path, en_seeds):
    run, recipe = _old_run(tmp_path, en_seeds)
    manifest = RunManifest.load(run / "stats.json")
    assert manifest.provenance.teacher.plugin == "openai" and manifest.provenance.teacher.model == "unrecorded"
    summary = export_run(run)
    rows = [json.loads(line) for line in (summary.folder / "train.jsonl").read_text().splitlines()]
    assert rows[1]["messages"] == [{"role": "user", "content": "Add the numbers.\n\n2 and 3"},
                                   {"role": "assistant", "content": "5"}]
    assert (rows[1]["instruction"], rows[1]["input"]) == ("Add the numbers.", "2 and 3")
    resumed = run_cli("run", str(recipe), "--out", str(run), env={"OPENAI_API_KEY": ""})
    assert resumed.returncode == 2 and "older factory" in resumed.stderr and "--restart" in resumed.stderr
    assert "Traceback" not in resumed.stderr
