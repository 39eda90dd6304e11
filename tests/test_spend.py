"""Spend is written down before it is spent: after stops and resumes, the manifest counts what the
servers counted, and the budget holds across stops."""

from __future__ import annotations

import textwrap
from pathlib import Path

from factory.ledger import Ledger
from factory.manifest import RunManifest
from factory.testing.helpers import run_cli
from factory.testing.responders import self_instruct_responder

REPO = Path(__file__).resolve().parents[1]
ALPACA = REPO / "tests" / "data" / "alpaca_en_small.json"


def _manifest(run: Path) -> RunManifest:
    return RunManifest.load(run / "stats.json")


def test_a_deepl_quota_stop_and_resume_count_what_the_server_billed(tmp_path):
    from factory_deepl.loopback import LoopbackDeepL

    recipe = tmp_path / "t.yaml"
    with LoopbackDeepL(character_limit=600) as server:
        recipe.write_text(textwrap.dedent(f"""\
            name: quota
            language: ko
            batch_size: 1
            source: {{path: {ALPACA}}}
            translate: {{plugin: deepl, source_lang: en, server_url: {server.server_url}, max_texts_per_request: 4,
                         concurrency: 1}}
            filters: {{similarity: {{enabled: false}}, script_check: false}}
            export: {{enabled: false}}
            """))
        env = {"DEEPL_AUTH_KEY": server.auth_key}
        stopped = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env=env)
        assert stopped.returncode == 3 and "quota" in stopped.stderr
        manifest = _manifest(tmp_path / "run")
        assert manifest.status == "stopped" and "quota" in manifest.stop_reason
        assert manifest.totals.billed_characters == server.character_count > 0  # the uncommitted batch too

        server.character_limit = None  # the next billing period
        resumed = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env=env)
        assert resumed.returncode == 0, resumed.stderr
        manifest = _manifest(tmp_path / "run")
        sent = len(server.translate_requests(status=None))
        billed = server.character_count
    assert manifest.status == "finished"
    assert manifest.totals.billed_characters == billed
    assert abs(manifest.totals.cost_usd - billed * 25 / 1e6) < 1e-9
    assert manifest.totals.requests + manifest.totals.retries == sent  # the refused (456) request included


def test_a_failing_server_stop_and_resume_count_every_request(tmp_path, en_seeds):
    from factory_openai.loopback import LoopbackOpenAI

    recipe = tmp_path / "r.yaml"
    with LoopbackOpenAI(self_instruct_responder) as server:
        recipe.write_text(textwrap.dedent(f"""\
            name: failing
            language: en
            batch_size: 2
            method: {{seeds: {en_seeds}, target: 20}}
            teacher: {{plugin: openai, model: loopback-model, api: completions, base_url: {server.base_url},
                       max_attempts: 2, backoff_initial_s: 0.01, concurrency: 2}}
            export: {{enabled: false}}
            """))
        # every request of the two batches in flight (the second starts ahead) fails twice: the run stops
        server.inject(*[("500",)] * 8)
        stopped = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": ""})
        assert stopped.returncode == 3 and "failed after retries" in stopped.stderr
        first = _manifest(tmp_path / "run")
        assert first.status == "stopped" and first.accepted == 0
        assert first.totals.requests + first.totals.retries == len(server.requests)
        assert first.totals.failed_requests >= 2
        resumed = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": ""})
        assert resumed.returncode == 0, resumed.stderr
        final = _manifest(tmp_path / "run")
        assert final.totals.requests + final.totals.retries == len(server.requests)
    assert final.status == "finished" and final.accepted >= 20


def test_the_budget_holds_across_stops(tmp_path, en_seeds):
    from factory_openai.loopback import LoopbackOpenAI

    budget = 0.002
    recipe = tmp_path / "b.yaml"
    with LoopbackOpenAI(self_instruct_responder) as server:
        recipe.write_text(textwrap.dedent(f"""\
            name: budget
            language: en
            batch_size: 2
            budget_usd: {budget}
            method: {{seeds: {en_seeds}, target: 500, max_tokens: 256}}
            teacher: {{plugin: openai, model: gpt-4o-mini, api: completions, base_url: {server.base_url},
                       concurrency: 2}}
            export: {{enabled: false}}
            """))
        env = {"OPENAI_API_KEY": ""}
        first = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env=env)
        assert first.returncode == 3 and "budget_usd" in first.stderr
        sent = len(server.requests)
        manifest = _manifest(tmp_path / "run")
        assert 0 < manifest.totals.cost_usd + manifest.totals.estimated_usd <= budget
        assert manifest.totals.requests == sent
        again = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env=env)
        assert again.returncode == 3 and "budget_usd" in again.stderr
        after = _manifest(tmp_path / "run")
        assert after.totals.cost_usd + after.totals.estimated_usd <= budget  # a rerun remembers what was spent
        assert after.totals.requests == len(server.requests) and len(server.requests) - sent <= 2


def test_an_unsettled_request_counts_at_its_estimate(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    row = ledger.reserve("generate", 0.25, {"requests": 1})
    ledger.record("generate", {"cached_requests": 3})
    ledger.flush()
    ledger.close()
    # a later process: the request's process died before the reply came
    import os

    later = Ledger.__new__(Ledger)
    later_pid = os.getpid() + 1
    from unittest import mock

    with mock.patch("os.getpid", return_value=later_pid):
        later.__init__(tmp_path / "ledger.sqlite")
    totals = later.totals()["generate"]
    assert totals["requests"] == 1 and totals["cached_requests"] == 3
    assert totals["unsettled_requests"] == 1 and totals["estimated_usd"] == 0.25 and totals["cost_usd"] == 0
    assert later.spent_usd() == 0.25
    later.settle(row, {"cost_usd": 0.1})  # an answer that did arrive (a batch API result) settles it
    assert later.spent_usd() == 0.1
