"""Run-folder integrity: one writer at a time (a lock naming its holder), exports swapped in whole, and a
push that never publishes an unfinished run or an incomplete export (so never commits a deletion)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.testing.helpers import run_cli, write_seeds
from factory.testing.responders import self_instruct_responder
from factory_openai.loopback import LoopbackOpenAI

pytest.importorskip("datasets")

GENERATE = """\
name: lock-demo
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: 40
teacher:
  plugin: openai
  model: loopback-model
  api: completions
  base_url: {url}
  concurrency: 2
export:
  enabled: false
"""


def _source_recipe(tmp_path: Path, rows: int = 6) -> Path:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"instruction": f"Explain topic number {i} in two short sentences.",
                                          "output": f"Answer number {i}."}) + "\n" for i in range(rows)))
    recipe = tmp_path / "src.yaml"
    recipe.write_text(f"name: src\nlanguage: en\nsource:\n  path: {source}\nfilters:\n  similarity:\n    enabled: false\n")
    return recipe


def _wait_for(predicate, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _factory(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "factory", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


# ------------------------------------------------------------------------------------------------ the lock


def test_two_concurrent_runs_on_one_folder_one_is_refused_and_nothing_is_duplicated(tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    # slow enough that the first run is still generating (holding the folder) when the second one starts
    with LoopbackOpenAI(self_instruct_responder, latency_s=1.5) as server:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(GENERATE.format(seeds=seeds, url=server.base_url).replace("target: 40", "target: 70"))
        out = tmp_path / "run"
        first = _factory("run", str(recipe), "--out", str(out), "--quiet")
        _wait_for(lambda: len(server.requests) > 0)  # the first run holds the folder and is paying
        second = run_cli("run", str(recipe), "--out", str(out), "--quiet")
        assert first.poll() is None, "the second run must start while the first one runs"
        _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in second.stderr
    assert f"pid {first.pid}" in lines[0] and "factory run" in lines[0] and str(out) in lines[0]
    accepted = [json.loads(line) for line in (out / "accepted.jsonl").read_text().splitlines()]
    state = json.loads((out / "state.json").read_text())
    assert len(accepted) == state["accepted"] >= 70
    assert len({r["id"] for r in accepted}) == len(accepted)
    assert len({json.dumps(r["messages"]) for r in accepted}) == len(accepted)
    assert (out / ".lock").read_text() == ""  # released (and emptied) on exit
    # the folder is free again: a rerun resumes (nothing to do) instead of being refused
    again = run_cli("run", str(recipe), "--out", str(out), "--quiet")
    assert again.returncode == 0, again.stderr


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    recipe = _source_recipe(tmp_path)
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from factory import runlock; "
                               "runlock.acquire(sys.argv[1]); print('locked', flush=True); time.sleep(60)", str(out)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    refused = run_cli("run", str(recipe), "--out", str(out))
    assert refused.returncode == 2 and f"pid {holder.pid}" in refused.stderr
    os.kill(holder.pid, signal.SIGKILL)  # dies holding it: the file still names it, the kernel freed the flock
    holder.wait()
    assert json.loads((out / ".lock").read_text())["pid"] == holder.pid
    result = run_cli("run", str(recipe), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"locked by pid {holder.pid}, which ended without releasing it" in result.stdout + result.stderr
    assert json.loads((out / "stats.json").read_text())["accepted"] == 6


def test_report_and_push_are_refused_while_a_writer_holds_the_folder_and_the_lock_is_reentrant(tmp_path):
    from factory import runlock

    recipe = _source_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(out)).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from factory import runlock; "
                               "runlock.acquire(sys.argv[1]); print('locked', flush=True); time.sleep(60)", str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for args in (["report", str(out)], ["push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "t")]):
            result = run_cli(*args)
            assert result.returncode == 2, result.stderr
            assert len(result.stderr.strip().splitlines()) == 1 and f"pid {holder.pid}" in result.stderr
        assert not (tmp_path / "t").exists()
        # train reads RUN under a shared lock (--data RUN) and writes its --out folder under an exclusive one
        pytest.importorskip("factory_peft")
        train = tmp_path / "train.yaml"
        train.write_text("name: t\nlanguage: en\ntrain:\n  plugin: peft\n  base_model: /no/such/model\n  method: lora\n")
        for args in (["--data", str(out), "--out", str(tmp_path / "other")], ["--out", str(out)]):
            result = run_cli("train", str(train), *args, "--quiet")
            assert result.returncode == 2 and f"pid {holder.pid}" in result.stderr, result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    pushed = run_cli("push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "t"))
    assert pushed.returncode == 0, pushed.stderr
    # two readers at once are fine; a writer inside this process may also read what it holds
    with runlock.shared(out), runlock.shared(out):
        pass
    with runlock.acquire(out) as lock:
        assert runlock.shared(out) is lock
        lock.release()  # the inner shared use
        assert runlock.held(out) is lock
    assert runlock.held(out) is None


# ---------------------------------------------------------------------------------------------- the export


def _export(out: Path, pause_at: str, marker: Path) -> subprocess.Popen:
    env = {"FACTORY_PAUSE_AT": pause_at, "FACTORY_PAUSE_MARKER": str(marker)}
    return subprocess.Popen([sys.executable, "-c", "import sys; from factory.export import export_run; "
                             "export_run(sys.argv[1], test_size=0.5)", str(out)],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _split_sizes(data: Path) -> dict[str, int]:
    return {p.name: len(p.read_text().splitlines()) for p in data.glob("*.jsonl")}


@pytest.mark.parametrize("pause_at, expect", [("export.before_record", "old"), ("export.before_swap", "old"),
                                              ("export.after_swap", "new")])
def test_a_kill_inside_the_export_window_leaves_the_old_or_the_new_export_never_neither(tmp_path, pause_at, expect):
    recipe = _source_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(out)).returncode == 0
    old = _split_sizes(out / "data")
    assert old == {"train.jsonl": 6}
    marker = tmp_path / "marker"
    process = _export(out, pause_at, marker)
    _wait_for(marker.exists)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    data = out / "data"
    assert (data / "README.md").is_file()
    if expect == "old":
        assert _split_sizes(data) == old
    else:
        assert _split_sizes(data) == {"train.jsonl": 3, "test.jsonl": 3}
    # whichever it is, it is complete, and the leftovers of the killed export are cleared by the next reader
    pushed = run_cli("push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "tree"))
    assert pushed.returncode == 0, pushed.stderr
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("data")) == ["data"]
    assert {p.name for p in (tmp_path / "tree").glob("*.jsonl")} == set(_split_sizes(data))


def test_the_two_rename_fallback_is_repaired_by_the_next_reader(tmp_path, monkeypatch):
    from factory import export_atomic
    from factory.export import export_run

    recipe = _source_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(out)).returncode == 0
    # a kill between the two renames of the fallback: data/ moved to data.old-<pid>, the new one not yet in place
    monkeypatch.setattr(export_atomic, "_exchange", lambda a, b: False)
    monkeypatch.setattr(export_atomic, "pause_point",
                        lambda name: (_ for _ in ()).throw(KeyboardInterrupt) if name == "export.between_renames" else None)
    with pytest.raises(KeyboardInterrupt):
        export_run(out, test_size=0.5)
    assert not (out / "data").exists()
    assert export_atomic.recover(out / "data") == [f"{out / 'data'}: completed an export interrupted while it was "
                                                   "being swapped in"]
    assert _split_sizes(out / "data") == {"train.jsonl": 3, "test.jsonl": 3}
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("data")) == ["data"]
    # the same kill before the new export was complete restores the old one
    (out / "data").rename(out / "data.old-1")
    assert export_atomic.recover(out / "data") == [f"{out / 'data'}: restored the previous export (an export was "
                                                   "interrupted)"]
    assert _split_sizes(out / "data") == {"train.jsonl": 3, "test.jsonl": 3}


def test_push_refuses_an_unfinished_run_and_an_incomplete_export_and_partial_says_so(tmp_path):
    recipe = _source_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(out)).returncode == 0
    stats_path = out / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats_path.write_text(json.dumps({**stats, "status": "stopped", "stop_reason": "budget reached", "target": 300}))
    refused = run_cli("push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "t1"))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {out}: the run is not finished (6 of 300 records, stopped: budget reached); finish it with "
        "`factory run` (same command: it resumes) or push it as is with --partial"]
    assert not (tmp_path / "t1").exists()

    partial = run_cli("push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "t2"), "--partial")
    assert partial.returncode == 0, partial.stderr
    assert "partial dataset (6 of 300 records, stopped: budget reached)" in partial.stdout
    card = (tmp_path / "t2" / "README.md").read_text()
    assert card.startswith("---\n") and "**Partial dataset.**" in card
    assert "**Partial dataset.**" not in (out / "data" / "README.md").read_text()  # the export itself is untouched

    stats_path.write_text(json.dumps(stats))
    (out / "data" / "train.jsonl").unlink()  # an export with a split missing (what used to get pushed as a deletion)
    refused = run_cli("push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "t3"))
    assert refused.returncode == 2 and "train.jsonl is missing" in refused.stderr
    (out / "data" / ".export.json").unlink()
    refused = run_cli("push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "t3"))
    assert refused.returncode == 2 and "the export is incomplete" in refused.stderr
    assert not (tmp_path / "t3").exists()
    assert run_cli("run", str(recipe), "--out", str(out)).returncode == 0  # the fix the message names
    assert run_cli("push", str(out), "--repo", "org/name", "--dry-run", str(tmp_path / "t3")).returncode == 0


# ----------------------------------------------------------------------------------- kills and the budget


def test_random_sigkills_then_resume_count_every_request_the_server_received_within_the_budget(tmp_path):
    """Kills land while requests are on the wire: those are written down (at their estimate) before they are
    sent, so after the last resume the manifest counts every request the server received and the spend it
    counts (settled + estimated) never passes budget_usd."""
    import random

    from factory.manifest import RunManifest

    rng = random.Random(20)
    budget = 0.005
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    with LoopbackOpenAI(self_instruct_responder, latency_s=0.3) as server:
        recipe = tmp_path / "k.yaml"
        recipe.write_text(GENERATE.format(seeds=seeds, url=server.base_url).replace(
            "  target: 40\n", "  target: 110\n  max_tokens: 256\n").replace(
            "batch_size: 2\n", f"batch_size: 2\nbudget_usd: {budget}\n").replace(
            "model: loopback-model", "model: gpt-4o-mini"))  # priced, so the budget binds
        out = tmp_path / "run"
        args = ["run", str(recipe), "--out", str(out), "--quiet"]
        kills = 0
        for _ in range(4):
            before = len(server.requests)
            process = _factory(*args)
            _wait_for(lambda: len(server.requests) > before or process.poll() is not None)
            if process.poll() is not None:
                break
            time.sleep(rng.uniform(0.05, 1.2))  # anywhere: start-up, mid-request, mid-commit
            process.kill()
            process.wait()
            kills += 1
        final = run_cli(*args)
        assert final.returncode in (0, 3), final.stderr  # finished, or stopped by the budget
        if final.returncode == 3:
            assert "budget_usd" in final.stderr
        received = len(server.requests)
    assert kills >= 2
    manifest = RunManifest.load(out / "stats.json")
    totals = manifest.totals
    # Every request the server received is counted. A kill between a request's ledger row and the wire
    # leaves a row for a request that never arrived: counted (at its estimate, as unsettled), since the
    # client cannot know; so the count may pass the server's by the unsettled rows, never more.
    assert received <= totals.requests + totals.retries <= received + totals.unsettled_requests
    assert totals.cost_usd + totals.estimated_usd <= budget
    accepted = [json.loads(line) for line in (out / "accepted.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in accepted}) == len(accepted) == manifest.accepted
