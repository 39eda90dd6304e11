"""Failed requests are retried, and on the next run: an empty (``content: null``) reply is a retryable failure,
never a kept answer, and a rerun after an outage converges to the result of a run that never saw one."""

from __future__ import annotations

import json

import pytest

from factory.testing.helpers import read_journal_rows, run_cli, write_seeds
from factory.testing.responders import self_instruct_responder
from factory_openai.loopback import LoopbackOpenAI

RECIPE = """\
name: outage
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: 12
teacher:
  plugin: openai
  model: loopback-model
  api: {api}
  base_url: {url}
  concurrency: 2
  max_attempts: 2
  backoff_initial_s: 0.01
export:
  enabled: false
"""


def _run(tmp_path, server, api: str, name: str):
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(RECIPE.format(seeds=tmp_path / "seeds.jsonl", api=api, url=server.base_url))
    return recipe, run_cli("run", str(recipe), "--out", str(tmp_path / name), "--quiet")


def _kept(out) -> list[tuple[str, str]]:
    return [(r["id"], r["instruction"]) for r in read_journal_rows(out / "accepted.jsonl")]


@pytest.mark.parametrize("fault, api", [("null_content", "chat"), ("null_content", "completions"),
                                        ("500", "completions")])
def test_a_rerun_after_persistent_failures_converges_to_the_clean_result(tmp_path, fault, api):
    write_seeds(tmp_path / "seeds.jsonl")
    with LoopbackOpenAI(self_instruct_responder) as clean:
        _, reference = _run(tmp_path, clean, api, "ref")
    assert reference.returncode == 0, reference.stderr
    with LoopbackOpenAI(self_instruct_responder) as server:
        server.inject(*[(fault,)] * 6)  # more than every attempt of the first requests: an outage
        recipe, first = _run(tmp_path, server, api, "run")
        assert first.returncode == 3
        assert "failed after retries" in first.stderr and "rerun the same command to retry them" in first.stderr
        if fault == "null_content":
            assert "empty reply" in first.stderr
        # nothing empty was kept or cached as an answer
        assert all(r["output"].strip() and r["instruction"].strip()
                   for r in read_journal_rows(tmp_path / "run" / "accepted.jsonl"))
        again = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
        assert again.returncode == 0, again.stderr
    assert _kept(tmp_path / "run") == _kept(tmp_path / "ref")
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["totals"]["failed_requests"] >= 1


def test_one_empty_reply_is_retried_within_the_run_and_billed(tmp_path):
    write_seeds(tmp_path / "seeds.jsonl")
    with LoopbackOpenAI(self_instruct_responder) as clean:
        _, reference = _run(tmp_path, clean, "chat", "ref")
        clean_requests = len(clean.requests)
    with LoopbackOpenAI(self_instruct_responder) as server:
        server.inject(("null_content",))
        _, result = _run(tmp_path, server, "chat", "run")
        assert result.returncode == 0, result.stderr
        assert len(server.requests) == clean_requests + 1  # the empty reply was asked again once
    assert _kept(tmp_path / "run") == _kept(tmp_path / "ref")
    totals = json.loads((tmp_path / "run" / "stats.json").read_text())["totals"]
    assert totals["retries"] == 1 and totals["requests"] + totals["retries"] == clean_requests + 1


PIPELINE = """\
name: pipeline
language: en
batch_size: 8
method:
  seeds: {seeds}
  target: 100
teacher:
  plugin: openai
  model: loopback-model
  api: completions
  base_url: {url}
  concurrency: 32
export:
  enabled: false
"""


def test_concurrency_32_with_batch_size_8_keeps_32_requests_in_flight_at_the_server(tmp_path):
    """Batches overlap (up to concurrency / batch_size + 1 of them), so the teacher is never limited to one
    batch's 8 requests, while commits stay in plan order."""
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    with LoopbackOpenAI(self_instruct_responder, latency_s=0.5) as server:
        recipe = tmp_path / "p.yaml"
        recipe.write_text(PIPELINE.format(seeds=seeds, url=server.base_url))
        result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
        assert result.returncode == 0, result.stderr
        assert server.max_in_flight == 32
        assert len(server.requests) > 32
    batches = [r["meta"]["batch"] for r in read_journal_rows(tmp_path / "run" / "accepted.jsonl")]
    assert batches == sorted(batches) and len(set(batches)) >= 3  # committed in plan order, batch after batch
