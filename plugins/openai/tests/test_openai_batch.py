"""Batch mode of the openai teacher: Files + Batches APIs through the real client, against the loopback server.

What must hold: results matched by custom_id; only failed or expired rows are
submitted again; oversized inputs are split; a killed run polls the batch it
created instead of uploading again; cost and budget use the batch price.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.batch_journal import FAILED, OK, BatchJournal
from factory.costs import Budget, BudgetExceeded, Usage
from factory.teachers import TeacherRequest
from factory.teaching import ResponseCache, TeacherClient, TeacherRequestFailed, TeacherSettings, TeacherStopped
from factory.testing.helpers import read_journal_rows, run_cli, write_seeds
from factory.testing.responders import self_instruct_responder
from factory_openai import OpenAITeacher
from factory_openai.batch import BatchRun
from factory_openai.loopback import LoopbackOpenAI, count_tokens, default_responder
from factory_openai.prices import batch_price, list_price

REPO = Path(__file__).resolve().parents[3]
FAST = {"backoff_initial_s": 0.01, "backoff_max_s": 0.02}
MODEL = "gpt-4o-mini"  # a priced model: the batch price is checked


@pytest.fixture
def server():
    with LoopbackOpenAI() as srv:
        yield srv


def make_client(server, tmp_path, *, usage=None, budget=None, reports=None, **options):
    teacher = OpenAITeacher(**{"model": MODEL, "base_url": server.base_url, "mode": "batch", "batch_poll_s": 0.02,
                               **options})
    path = tmp_path / "cache" / "teacher.sqlite"
    journal = BatchJournal(path, reports.append if reports is not None else None)
    return TeacherClient(teacher, TeacherSettings(**FAST), cache=ResponseCache(path), usage=usage or Usage(),
                         budget=budget, price=OpenAITeacher.price_for(teacher.options), batch_journal=journal)


def run_many(client, requests):
    async def go():
        try:
            return await client.complete_many(requests)
        finally:
            await client.aclose()

    return asyncio.run(go())


def requests_for(count: int, **kwargs) -> list[TeacherRequest]:
    return [TeacherRequest(prompt=f"Describe item number {i} briefly.", max_tokens=32, **kwargs) for i in range(count)]


def uploaded_ids(server) -> list[list[str]]:
    """The custom ids of every uploaded input file, in upload order."""
    files = [f for f in server.batch_api.files.values() if f.purpose == "batch"]
    return [[json.loads(line)["custom_id"] for line in f.data.decode().splitlines()] for f in files]


def test_results_match_by_custom_id_and_cost_the_batch_price(server, tmp_path):
    server.batch_api.duration_s = 0.2
    usage, reports = Usage(), []
    requests = requests_for(5)
    results = run_many(make_client(server, tmp_path, usage=usage, reports=reports), requests)
    assert [r.text for r in results] == [default_responder({"prompt": r.prompt}) for r in requests]
    assert server.count("/v1/files") == 1 and server.count("/v1/batches") == 1
    assert [e for e in server.requests if e["path"] == "/v1/completions" and "batch" not in e] == []  # nothing online
    prompt_tokens = sum(count_tokens(r.prompt) for r in requests)
    completion_tokens = sum(count_tokens(r.text) for r in results)
    assert (usage.requests, usage.retries, usage.prompt_tokens, usage.completion_tokens) == (5, 0, prompt_tokens, completion_tokens)
    assert usage.cost_usd == pytest.approx(batch_price(MODEL).cost(prompt_tokens, completion_tokens))
    assert usage.cost_usd == pytest.approx(0.5 * list_price(MODEL).cost(prompt_tokens, completion_tokens))
    states = " | ".join(reports)
    assert "submitted 5 requests" in states and "validating" in states and "in_progress" in states
    assert "completed, 5/5 done, 0 failed" in states
    # the same requests again: all from the cache, nothing uploaded
    again = run_many(make_client(server, tmp_path, usage=Usage()), requests)
    assert [r.cached for r in again] == [True] * 5 and server.count("/v1/files") == 1


def test_failed_and_expired_rows_are_resubmitted_alone(server, tmp_path):
    server.batch_api.fail_next_rows(None, "500", None, "expired", "429", None)
    usage = Usage()
    requests = requests_for(6)
    client = make_client(server, tmp_path, usage=usage)
    keys = [r.cache_key(client.teacher.identity_key) for r in requests]
    results = run_many(client, requests)
    assert [r.text for r in results] == [default_responder({"prompt": r.prompt}) for r in requests]
    first, second = uploaded_ids(server)
    assert first == keys and second == [keys[1], keys[3], keys[4]]  # only the failed rows, matched by custom_id
    assert (usage.requests, usage.retries, usage.failed_requests) == (6, 3, 0)
    statuses = [b.finished for b in server.batch_api.batches.values()]
    assert statuses == ["expired", "completed"]
    journal = BatchJournal(tmp_path / "cache" / "teacher.sqlite")
    first_file = next(iter(server.batch_api.files))
    assert sorted(journal.items(first_file, FAILED)) == sorted([keys[1], keys[3], keys[4]])
    assert len(journal.items(first_file, OK)) == 3


def test_rows_that_keep_failing_are_recorded_as_failed(server, tmp_path):
    server.batch_api.fail_next_rows(None, "500", "500", "500")
    usage = Usage()
    client = make_client(server, tmp_path, usage=usage)
    client.settings = TeacherSettings(max_attempts=3, **FAST)
    results = run_many(client, requests_for(2))
    assert results[0].text.startswith("loopback reply") and isinstance(results[1], TeacherRequestFailed)
    assert "500 The server had an error processing this request" in str(results[1])
    assert (usage.requests, usage.retries, usage.failed_requests) == (2, 2, 1)
    assert server.count("/v1/batches") == 3


def test_an_input_over_the_request_or_byte_limit_is_split(server, tmp_path):
    requests = requests_for(7)
    results = run_many(make_client(server, tmp_path, batch_max_requests=3), requests)
    assert all(r.text for r in results)
    assert [len(ids) for ids in uploaded_ids(server)] == [3, 3, 1]

    server.batch_api.max_file_bytes = 1500  # the server refuses bigger files: the teacher must split below it
    more = [TeacherRequest(prompt=f"Another item {i} to describe.", max_tokens=32) for i in range(6)]
    line = len(json.dumps({"custom_id": "x" * 64, "method": "POST", "url": "/v1/chat/completions",
                           "body": OpenAITeacher(model=MODEL).request_body(more[0])}).encode()) + 1
    results = run_many(make_client(server, tmp_path / "b", batch_max_bytes=1500), more)
    assert all(r.text for r in results)
    sizes = [len(f.data) for f in server.batch_api.files.values() if f.purpose == "batch"][3:]
    assert 6 * line > 1500 and sizes == [line * n for n in (1500 // line,) * (6 // (1500 // line))] + (
        [line * (6 % (1500 // line))] if 6 % (1500 // line) else [])

    with pytest.raises(TeacherStopped, match="413 File is .* bytes; the limit is 1500 bytes"):
        run_many(make_client(server, tmp_path / "c", batch_max_bytes=4000), more[:4] + requests_for(3))


def test_a_batch_the_server_rejects_stops_the_run_with_its_reason(server, tmp_path):
    server.batch_api.max_batch_requests = 2
    with pytest.raises(TeacherStopped, match="failed validation: too_many_requests_in_file: 3 requests"):
        run_many(make_client(server, tmp_path), requests_for(3))


def test_a_refused_row_stops_the_run_after_the_others_are_cached(server, tmp_path):
    server.batch_api.fail_next_rows(None, "400", None)
    client = make_client(server, tmp_path)
    with pytest.raises(TeacherStopped, match="400 bad request: Invalid request in this batch row"):
        run_many(client, requests_for(3))
    assert len(ResponseCache(tmp_path / "cache" / "teacher.sqlite")) == 2


def test_the_budget_is_reserved_per_request_at_the_batch_price(server, tmp_path):
    requests = requests_for(4)
    one = batch_price(MODEL).cost(count_tokens(requests[0].prompt) + 20, 32)  # an upper estimate of one request
    budget = Budget(limit_usd=2.5 * one)
    client = make_client(server, tmp_path, budget=budget)
    with pytest.raises(BudgetExceeded):
        run_many(client, requests)
    assert [len(ids) for ids in uploaded_ids(server)] == [2]  # what fit was submitted, and paid once
    assert budget.reserved_usd == pytest.approx(0.0) and 0 < budget.spent_usd <= budget.limit_usd
    assert len(ResponseCache(tmp_path / "cache" / "teacher.sqlite")) == 2


def test_a_kill_between_upload_and_batch_creation_reuses_the_uploaded_file(server, tmp_path, monkeypatch):
    requests = requests_for(3)
    original = BatchRun._create

    async def killed(self, client, entry, **kwargs):
        raise KeyboardInterrupt  # the process dies right after the upload was journaled

    monkeypatch.setattr(BatchRun, "_create", killed)
    with pytest.raises(KeyboardInterrupt):
        run_many(make_client(server, tmp_path), requests)
    assert server.count("/v1/files") == 1 and server.count("/v1/batches") == 0
    monkeypatch.setattr(BatchRun, "_create", original)
    results = run_many(make_client(server, tmp_path), requests)
    assert all(r.text for r in results)
    assert server.count("/v1/files") == 1 and server.count("/v1/batches") == 1


def test_a_kill_after_creation_before_journaling_finds_the_batch_on_the_server(server, tmp_path, monkeypatch):
    requests = requests_for(3)
    original = BatchJournal.record_batch

    def lost(self, file_id, batch_id, state):
        raise KeyboardInterrupt  # the batch exists on the server; the journal never heard of it

    monkeypatch.setattr(BatchJournal, "record_batch", lost)
    with pytest.raises(KeyboardInterrupt):
        run_many(make_client(server, tmp_path), requests)
    monkeypatch.setattr(BatchJournal, "record_batch", original)
    results = run_many(make_client(server, tmp_path), requests)
    assert all(r.text for r in results)
    assert server.count("/v1/files") == 1 and server.count("/v1/batches") == 1  # found by its input file, not re-created


def test_a_single_request_in_batch_mode_is_a_batch_of_one(server, tmp_path):
    usage = Usage()
    client = make_client(server, tmp_path, usage=usage)

    async def go():
        try:
            return await client.complete(requests_for(1)[0])
        finally:
            await client.aclose()

    completion = asyncio.run(go())
    assert completion.raw["batch_id"] and server.count("/v1/batches") == 1
    assert usage.cost_usd == pytest.approx(batch_price(MODEL).cost(completion.prompt_tokens, completion.completion_tokens))
    with pytest.raises(ValueError, match="batch mode: give the TeacherClient a batch_journal"):
        TeacherClient(client.teacher, TeacherSettings(), cache=None, usage=Usage(), budget=None)


def test_batch_mode_options_are_validated():
    from factory.errors import UserError

    with pytest.raises(UserError, match="teacher.stream: .*a batch is not streamed"):
        OpenAITeacher(model=MODEL, mode="batch", stream=True)
    with pytest.raises(UserError, match="teacher.batch_max_requests"):
        OpenAITeacher(model=MODEL, mode="batch", batch_max_requests=60_000)
    assert OpenAITeacher.price_for(OpenAITeacher(model=MODEL, mode="batch").options) == batch_price(MODEL)
    assert OpenAITeacher.price_for(OpenAITeacher(model=MODEL).options) == list_price(MODEL)


# -- the CLI, end to end --------------------------------------------------------------------------
RECIPE = """\
name: batch-demo
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: 8
teacher:
  plugin: openai
  model: gpt-4o-mini
  base_url: {url}
  mode: batch
  batch_poll_s: {poll}
export:
  enabled: false
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins" / "openai"),
                                                         os.environ.get("PYTHONPATH", "")])}


def test_factory_run_in_batch_mode_costs_half_the_online_price(tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    costs = {}
    with LoopbackOpenAI(self_instruct_responder) as srv:  # one server: the teacher's identity holds its address
        srv.batch_api.duration_s = 0.3
        for mode in ("online", "batch"):
            seen = len(srv.requests)
            recipe = tmp_path / f"{mode}.yaml"
            recipe.write_text(RECIPE.format(seeds=seeds, url=srv.base_url, poll=0.05).replace("mode: batch", f"mode: {mode}"))
            done = run_cli("run", str(recipe), "--out", str(tmp_path / mode))
            assert done.returncode == 0, done.stderr
            batch_rows = [e for e in srv.requests[seen:] if "batch" in e]
            if mode == "batch":
                assert batch_rows and srv.count("/v1/files") == srv.count("/v1/batches") >= 1
                assert "teacher batch batch-loopback" in done.stderr and "completed, 2/2 done" in done.stderr
            else:
                assert batch_rows == []
            stats = json.loads((tmp_path / mode / "stats.json").read_text())
            costs[mode] = stats["usage"]["generate"]
            accepted = read_journal_rows(tmp_path / mode / "accepted.jsonl")
            assert len(accepted) >= 8
        # switching the mode changes how requests travel, not what comes back: the online run folder resumes in
        # batch mode
        switched = run_cli("run", str(tmp_path / "batch.yaml"), "--out", str(tmp_path / "online"))
        assert switched.returncode == 0 and "nothing to do" in switched.stderr, switched.stderr
    online, batch = costs["online"], costs["batch"]
    assert (batch["prompt_tokens"], batch["completion_tokens"]) == (online["prompt_tokens"], online["completion_tokens"])
    assert batch["cost_usd"] == pytest.approx(online["cost_usd"] / 2, rel=1e-6) and batch["cost_usd"] > 0
    fields = lambda mode: [(r["id"], r["instruction"], r["input"], r["output"])  # noqa: E731
                           for r in read_journal_rows(tmp_path / mode / "accepted.jsonl")]
    assert fields("batch") == fields("online")  # the same data, at half the price
    files = list((tmp_path / "batch" / "cache" / "batches").glob("*.jsonl"))
    line = json.loads(files[0].read_text().splitlines()[0])
    assert set(line) == {"custom_id", "method", "url", "body"} and line["url"] == "/v1/chat/completions"


def test_a_run_killed_while_polling_resumes_the_same_batch_without_uploading_again(tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    log_path = tmp_path / "server.jsonl"
    server = subprocess.Popen([sys.executable, "-m", "factory_openai.loopback", "--port", "0", "--log", str(log_path),
                               "--batch-duration", "2.5",
                               "--responder", "factory.testing.responders:self_instruct_responder"],
                              stdout=subprocess.PIPE, text=True, env=_env())
    try:
        base_url = server.stdout.readline().strip()
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(seeds=seeds, url=base_url, poll=0.1))
        out = tmp_path / "run"
        first = subprocess.Popen([sys.executable, "-m", "factory", "run", str(recipe), "--out", str(out), "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
        deadline = time.monotonic() + 60
        polled: list[dict] = []
        while time.monotonic() < deadline and len(polled) < 2:
            time.sleep(0.05)
            entries = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
            polled = [e for e in entries if e.get("method") == "GET" and e["path"].startswith("/v1/batches/")]
        assert polled, "the run never polled its batch"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        before = [json.loads(line) for line in log_path.read_text().splitlines()]
        assert not (out / "accepted.jsonl").exists() or not (out / "accepted.jsonl").read_text().strip()

        resumed = run_cli("run", str(recipe), "--out", str(out), env=_env())
        assert resumed.returncode == 0, resumed.stderr
        assert "resuming" in resumed.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    after = entries[len(before):]
    killed_batch = polled[0]["path"].rsplit("/", 1)[-1]
    polls_after = {e["path"].rsplit("/", 1)[-1] for e in after if e.get("method") == "GET"}
    assert killed_batch in polls_after  # the resumed run polled the batch the killed one had created
    uploads = [e for e in entries if e["path"] == "/v1/files"]
    created = [e for e in entries if e["path"] == "/v1/batches" and e.get("method", "POST") == "POST"]
    assert len(uploads) == len(created)  # one upload per batch: nothing uploaded twice
    # journal batches started ahead of the kill (pipelined) were resumed too, not uploaded again
    uploaded_before = [e for e in before if e["path"] == "/v1/files"]
    assert uploaded_before and len(uploads) >= len(uploaded_before)
    rows = [e for e in entries if "batch" in e]
    prompts = [e["body"]["messages"][-1]["content"] for e in rows]
    assert len(prompts) == len(set(prompts))  # every request was processed (and paid) once
    stats = json.loads((out / "stats.json").read_text())
    assert stats["accepted"] >= 8 and stats["usage"]["generate"]["requests"] == len(prompts)
