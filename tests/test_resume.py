"""A run killed midway (SIGKILL) resumes with no accepted record lost or duplicated, and no paid
request sent twice."""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.testing.helpers import read_journal_rows, run_cli, write_seeds
from factory_openai.loopback import LoopbackOpenAI
from factory.testing.responders import self_instruct_responder

LATENCY = 0.25

RECIPE = """\
name: resume-demo
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: 70
teacher:
  plugin: openai
  model: loopback-model
  api: completions
  base_url: {url}
  concurrency: 2
export:
  enabled: false
"""


def _lines(path: Path) -> list[dict]:
    return read_journal_rows(path)


def _count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


_HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.mark.parametrize("executor", [
    pytest.param([], id="local"),
    # the killed driver and the resumed one each start a 2-CPU local cluster: the driver alone owns the
    # run folder, so the resume is the local one (Ray's reaper stops a killed driver's cluster)
    pytest.param(["--executor", "ray", "--workers", "2"], id="ray",
                 marks=pytest.mark.skipif(not _HAS_RAY, reason="the ray extra is not installed")),
])
def test_sigkill_midway_then_resume_loses_and_duplicates_nothing(tmp_path, executor):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    with LoopbackOpenAI(self_instruct_responder, latency_s=LATENCY) as reference_server:
        recipe = tmp_path / "ref.yaml"
        recipe.write_text(RECIPE.format(seeds=seeds, url=reference_server.base_url))
        done = run_cli("run", str(recipe), "--out", str(tmp_path / "ref"), "--quiet")
        assert done.returncode == 0, done.stderr
        reference_sent = collections.Counter(entry["body"]["prompt"] for entry in reference_server.requests)
    reference = _lines(tmp_path / "ref" / "accepted.jsonl")
    assert len(reference) >= 70

    with LoopbackOpenAI(self_instruct_responder, latency_s=LATENCY) as server:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(seeds=seeds, url=server.base_url))
        out = tmp_path / "run"
        process = subprocess.Popen([sys.executable, "-m", "factory", "run", str(recipe), "--out", str(out), "--quiet",
                                    *executor],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _count(out / "accepted.jsonl") < 25 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(LATENCY / 2)  # land the kill while requests are in flight
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        partial = _count(out / "accepted.jsonl")
        assert 0 < partial < len(reference), "the kill must land midway"

        resumed = run_cli("run", str(recipe), "--out", str(out), "--quiet", *executor)
        assert resumed.returncode == 0, resumed.stderr
        requests = list(server.requests)

    accepted = _lines(out / "accepted.jsonl")
    ids = [r["id"] for r in accepted]
    assert len(ids) == len(set(ids)), "an accepted record was duplicated"
    assert [(r["id"], r["instruction"]) for r in accepted] == [(r["id"], r["instruction"]) for r in reference]
    rejected = _lines(out / "rejected.jsonl")
    assert len({r["id"] for r in rejected}) == len(rejected)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["accepted"] == len(accepted) and stats["rejected"] == len(rejected)
    # every request the server received is counted, those in flight at the kill included (written down
    # before they were sent; counted at their estimate, since their replies never arrived)
    totals = stats["totals"]
    assert totals["requests"] + totals["retries"] == len(requests)
    assert totals["unsettled_requests"] <= 2

    # a request answered before the kill is in the response cache and is never sent again: beyond what the
    # uninterrupted run sent, only the requests in flight at the kill (at most `concurrency`) are sent once more.
    # (Requests are compared by prompt: two requests may draw the same demonstrations, so counts are compared.)
    sent = collections.Counter(entry["body"]["prompt"] for entry in requests)
    assert sum((sent - reference_sent).values()) <= 2
