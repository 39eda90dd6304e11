"""How a run ends when it does not finish: SIGTERM like Ctrl-C (what is complete is committed, one line with
the resume command), a persistent fault in one line (details in RUN/run.log, on screen with -v), and --set
mistakes named by their --set argument."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from factory.testing.helpers import read_journal_rows, run_cli, write_seeds
from factory.testing.responders import self_instruct_responder
from factory_openai.loopback import LoopbackOpenAI

RECIPE = """\
name: interrupts
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
  max_attempts: 2
  backoff_initial_s: 0.01
export:
  enabled: false
"""


def _lines(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_commit_what_is_complete_and_print_the_resume_command(tmp_path, signum, code, word):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    with LoopbackOpenAI(self_instruct_responder) as clean:
        (tmp_path / "ref.yaml").write_text(RECIPE.format(seeds=seeds, url=clean.base_url))
        assert run_cli("run", str(tmp_path / "ref.yaml"), "--out", str(tmp_path / "ref"), "-q").returncode == 0
    # replies slow enough that the run cannot reach its target between the check below and the signal, even
    # on a loaded machine (at 0.2 s it sometimes finished first and exited 0)
    with LoopbackOpenAI(self_instruct_responder, latency_s=1.0) as server:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(seeds=seeds, url=server.base_url))
        out = tmp_path / "run"
        args = ["run", str(recipe), "--out", str(out), "--quiet"]
        process = subprocess.Popen([sys.executable, "-m", "factory", *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while _lines(out / "accepted.jsonl") < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # requests in flight
        os.kill(process.pid, signum)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == code, stderr
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines() == [
            f"{word}: everything committed so far is saved; resume with: factory {' '.join(args)}"]
        stats = json.loads((out / "stats.json").read_text())
        assert stats["status"] == "stopped" and stats["stop_reason"] == "interrupted"
        kept = json.loads((out / "state.json").read_text())["accepted"]
        assert 0 < kept < 40 and _lines(out / "accepted.jsonl") >= kept
        resumed = run_cli(*args)
        assert resumed.returncode == 0, resumed.stderr
    rows = read_journal_rows(out / "accepted.jsonl")
    assert [(r["id"], r["instruction"]) for r in rows] == [
        (r["id"], r["instruction"]) for r in read_journal_rows(tmp_path / "ref" / "accepted.jsonl")]


def test_a_persistent_fault_ends_in_one_line_with_details_in_the_run_log_and_on_screen_with_v(tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    with LoopbackOpenAI(self_instruct_responder) as server:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(seeds=seeds, url=server.base_url))
        out = tmp_path / "run"
        server.inject(*[("500",)] * 8)
        quiet = run_cli("run", str(recipe), "--out", str(out), "--quiet")
        assert quiet.returncode == 3
        lines = quiet.stderr.strip().splitlines()
        assert len(lines) == 1, quiet.stderr
        assert "failed after retries" in lines[0] and f"(details: {out / 'run.log'})" in lines[0]
        log = (out / "run.log").read_text()
        assert "request failed after 2 attempt(s): 500" in log and "retry 1 in" in log
        server.inject(*[("500",)] * 8)
        verbose = run_cli("-v", "run", str(recipe), "--out", str(out), "--quiet")
        assert verbose.returncode == 3
        assert "request failed after 2 attempt(s)" in verbose.stderr and "retry 1 in" in verbose.stderr


@pytest.mark.parametrize("override, expected", [
    ("foo.bar=1", "--set foo.bar: foo: unknown key"),
    ("export.nope.deep=1", "--set export.nope.deep: export.nope: unknown key"),
    ("method.target=abc", "--set method.target: method.target: Input should be a valid integer"),
])
def test_set_mistakes_name_the_set_argument_not_a_place_in_the_file(tmp_path, override, expected):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(seeds=seeds, url="http://127.0.0.1:9/v1"))
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "--set", override)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "r.yaml:" not in result.stderr
