"""The engine end to end through the CLI: resume rules, restart, budget, estimate, fatal errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.testing.helpers import run_cli, write_seeds
from factory_openai.loopback import LoopbackOpenAI
from factory.testing.responders import self_instruct_responder
from factory.testing.helpers import read_journal_rows

FAKE_KEY = "sk-" + "loopback-secret-123456"  # fake, assembled at run time

RECIPE = """\
name: engine-demo
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: {target}
teacher:
  plugin: openai
  model: gpt-4o-mini
  api: completions
  base_url: {url}
  api_key_env: LOOPBACK_KEY
export:
  enabled: false
"""


@pytest.fixture
def server():
    with LoopbackOpenAI(self_instruct_responder, api_key=FAKE_KEY) as srv:
        yield srv


@pytest.fixture
def recipe(tmp_path, server) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE.format(seeds=write_seeds(tmp_path / "seeds.jsonl"), url=server.base_url, target=20))
    return path


ENV = {"LOOPBACK_KEY": FAKE_KEY}


def _accepted(out: Path) -> list[dict]:
    return read_journal_rows(out / "accepted.jsonl")


def test_rerun_resumes_without_new_requests_and_a_higher_target_continues(tmp_path, recipe, server):
    out = tmp_path / "run"
    first = run_cli("run", str(recipe), "--out", str(out), env=ENV)
    assert first.returncode == 0, first.stderr
    sent = len(server.requests)
    kept = _accepted(out)
    assert len(kept) >= 20
    again = run_cli("run", str(recipe), "--out", str(out), env=ENV)
    assert again.returncode == 0 and len(server.requests) == sent
    assert _accepted(out) == kept
    more = run_cli("run", str(recipe), "--out", str(out), "--set", "method.target=60", env=ENV)
    assert more.returncode == 0, more.stderr
    grown = _accepted(out)
    assert grown[: len(kept)] == kept and len(grown) >= 60


def test_changed_recipe_refuses_to_resume_and_restart_starts_fresh(tmp_path, recipe):
    out = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(out), env=ENV).returncode == 0
    changed = run_cli("run", str(recipe), "--out", str(out), "--set", "filters.similarity.threshold=0.5", env=ENV)
    assert changed.returncode == 2
    assert "filters.near_duplicate.threshold: 0.7 -> 0.5" in changed.stderr and "--restart" in changed.stderr
    assert "Traceback" not in changed.stderr
    before = (out / "accepted.jsonl").read_bytes()
    fresh = run_cli("run", str(recipe), "--out", str(out), "--restart", "--set", "filters.similarity.threshold=0.5", env=ENV)
    assert fresh.returncode == 0, fresh.stderr
    backups = list(tmp_path.glob("run.old-*"))
    assert len(backups) == 1 and (backups[0] / "accepted.jsonl").read_bytes() == before


def test_runtime_settings_do_not_invalidate_a_run(tmp_path, recipe):
    out = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(out), env=ENV).returncode == 0
    again = run_cli("run", str(recipe), "--out", str(out), "--set", "teacher.concurrency=3", env=ENV)
    assert again.returncode == 0, again.stderr


def test_budget_stops_before_exceeding_and_keeps_work(tmp_path, recipe):
    out = tmp_path / "run"
    result = run_cli("run", str(recipe), "--out", str(out), "--set", "budget_usd=0.01",
                     "--set", "method.target=500", env=ENV)
    assert result.returncode == 3
    assert "budget_usd" in result.stderr and "Traceback" not in result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["totals"]["cost_usd"] <= 0.01
    assert stats["accepted"] == len(_accepted(out)) > 0


def test_estimate_spends_nothing(tmp_path, recipe, server):
    result = run_cli("run", str(recipe), "--estimate", "--set", "method.target=1000", env=ENV)
    assert result.returncode == 0, result.stderr
    assert server.requests == []
    assert "requests" in result.stdout and "estimated cost" in result.stdout
    requests = int(next(l for l in result.stdout.splitlines() if l.strip().startswith("requests")).split()[-1])
    assert requests == 125  # 1000 kept / (16 new tasks per request x 0.5 keep rate)


def test_bad_key_stops_at_once_with_one_line_and_no_secret(tmp_path, recipe):
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"LOOPBACK_KEY": "sk-wrong-key-987654321"})
    assert result.returncode != 0
    assert "sk-wrong-key-987654321" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 300


def test_secrets_never_reach_the_run_folder(tmp_path, recipe):
    out = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(out), env=ENV).returncode == 0
    for path in out.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_a_teacher_that_only_repeats_itself_stops_the_run_and_the_stall_count_survives_resume(tmp_path, en_seeds):
    from factory_openai.loopback import LoopbackOpenAI

    def parrot(request: dict) -> str:  # the same single task every time: a near-duplicate after the first
        return " Describe the weather in Busan today in two sentences.\n4. Input:\n<noinput>\n4. Output:\nSunny.\n###\n"

    with LoopbackOpenAI(parrot) as srv:
        recipe = tmp_path / "p.yaml"
        recipe.write_text(RECIPE.format(seeds=en_seeds, url=srv.base_url, target=50).replace(
            "  target: 50\n", "  target: 50\n  max_stalled_batches: 3\n"))
        out = tmp_path / "run"
        first = run_cli("run", str(recipe), "--out", str(out), env=ENV)
        assert first.returncode == 3 and "kept nothing" in first.stderr
        state = json.loads((out / "state.json").read_text())
        assert state["counters"]["extra"]["stalled_batches"] == 3
        assert len(_accepted(out)) == 1
        sent = len(srv.requests)
        again = run_cli("run", str(recipe), "--out", str(out), env=ENV)
        assert again.returncode == 2 and "--retry-stalled" in again.stderr  # it says so instead of paying again
        assert len(srv.requests) == sent
        forced = run_cli("run", str(recipe), "--out", str(out), "--retry-stalled", env=ENV)
        assert forced.returncode == 3 and "kept nothing" in forced.stderr
        # one more stalled batch is committed (its requests were already answered and cached: they were started
        # ahead of the stop) while the next one is on the wire: 2 new requests, then it stops again
        assert len(srv.requests) - sent == 2


def test_an_unreachable_teacher_stops_the_run_after_one_failed_batch(tmp_path, en_seeds):
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    recipe = tmp_path / "dead.yaml"
    recipe.write_text(RECIPE.format(seeds=en_seeds, url=dead, target=10).replace(
        "export:", "  max_attempts: 2\n  backoff_initial_s: 0.01\nexport:"))
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env=ENV)
    assert result.returncode == 3
    assert "all 2 requests of batch 0 failed" in result.stderr and "Traceback" not in result.stderr
    assert json.loads((tmp_path / "run" / "state.json").read_text())["batches_done"] == 0
