"""A recipe's `publish:` section pushes the run's dataset in one commit; `factory push` of the same
unchanged run makes no new commit."""

from __future__ import annotations

import json

import pytest

from factory.testing.helpers import run_cli
from factory_hub.loopback import LoopbackHub

pytest.importorskip("factory_hub")
TOKEN = "hf_" + "loopbackStageToken0123456789abcdef"  # fake, assembled at run time


def test_publish_stage_and_idempotent_push(tmp_path):
    source = tmp_path / "in.jsonl"
    rows = [{"instruction": f"Explain topic number {i} in two short sentences for a beginner.", "output": f"Answer {i}."}
            for i in ("one", "two", "three", "four")]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: pub\nlanguage: en\nsource:\n  path: {source}\n"
                      "filters:\n  similarity:\n    enabled: false\n"
                      "publish:\n  repo: factory-org/pub-demo\n  max_attempts: 2\n  backoff_initial_s: 0.01\n")
    with LoopbackHub(token=TOKEN) as hub:
        env = {"HF_TOKEN": TOKEN, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1",
               "HF_TOKEN_PATH": str(tmp_path / "no-token")}
        out = tmp_path / "run"
        result = run_cli("run", str(recipe), "--out", str(out), env=env)
        assert result.returncode == 0, result.stderr
        commits = [c for c in hub.commits("factory-org/pub-demo", "main") if c.title != "initial commit"]
        assert len(commits) == 1  # data, card, recipe and stats in one commit
        files = hub.files("factory-org/pub-demo", "main")
        assert {"README.md", "recipe.yaml", "stats.json"} <= set(files)
        assert json.loads(files["stats.json"])["accepted"] == 4
        assert hub.repo("factory-org/pub-demo").private is True
        again = run_cli("push", str(out), "--repo", "factory-org/pub-demo", env=env)
        assert again.returncode == 0, again.stderr
        assert [c for c in hub.commits("factory-org/pub-demo", "main") if c.title != "initial commit"] == commits
        assert TOKEN not in (result.stdout + result.stderr + again.stdout + again.stderr)
