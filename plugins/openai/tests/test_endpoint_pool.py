"""A pool of teacher endpoints (teacher.base_url as a list): failover, AIMD concurrency, weights, stats."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


from factory.teachers import RetryableTeacherError, TeacherRequest
from factory.testing.helpers import run_cli, write_seeds
from factory_openai.loopback import LoopbackOpenAI
from factory_openai.teacher import OpenAITeacher, OpenAITeacherOptions


def _teacher(urls, **options) -> OpenAITeacher:
    return OpenAITeacher(OpenAITeacherOptions(model="m", api="completions", base_url=urls, **options))


async def _complete_all(teacher: OpenAITeacher, n: int) -> list[str]:
    """n concurrent requests, each retried on a retryable error (as the core's TeacherClient does)."""
    async def one(i: int) -> str:
        for _ in range(50):
            try:
                return (await teacher.complete(TeacherRequest(prompt=f"task {i}"))).text
            except RetryableTeacherError:
                await asyncio.sleep(0.01)
        raise AssertionError("never answered")
    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await teacher.aclose()


def test_a_429_storm_shrinks_the_endpoints_concurrency_and_it_recovers():
    with LoopbackOpenAI(latency_s=0.01) as server:
        server.inject(*[("429", 0)] * 12)
        teacher = _teacher([server.base_url], endpoint_concurrency=8)
        texts = asyncio.run(_complete_all(teacher, 120))
    assert texts == [f"loopback reply to: task {i}" for i in range(120)]
    stats = teacher.endpoint_stats()[0]
    assert stats["overloaded"] == 12 and stats["succeeded"] == 120
    assert stats["min_concurrency"] <= 2  # halved on every 429
    assert stats["concurrency"] > stats["min_concurrency"] + 1  # additive increase afterwards
    assert server.max_in_flight <= 8


def test_requests_spread_by_weight_over_healthy_endpoints():
    with LoopbackOpenAI(latency_s=0.02) as a, LoopbackOpenAI(latency_s=0.02) as b:
        teacher = _teacher([{"url": a.base_url, "weight": 3}, b.base_url], endpoint_concurrency=6)
        asyncio.run(_complete_all(teacher, 90))
        counts = len(a.requests), len(b.requests)
        urls = [a.base_url.rstrip("/"), b.base_url.rstrip("/")]
    assert sum(counts) == 90  # nothing sent twice
    assert counts[0] > 2 * counts[1] > 0
    stats = teacher.endpoint_stats()
    assert [s["url"] for s in stats] == urls and [s["succeeded"] for s in stats] == list(counts)


def test_a_dead_endpoint_fails_over_without_losing_a_request():
    with LoopbackOpenAI(latency_s=0.01) as alive:
        dead = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
        teacher = _teacher([dead, alive.base_url], endpoint_concurrency=4)
        texts = asyncio.run(_complete_all(teacher, 30))
        assert len(alive.requests) == 30
    assert texts == [f"loopback reply to: task {i}" for i in range(30)]
    dead_stats = teacher.endpoint_stats()[0]
    assert dead_stats["succeeded"] == 0 and dead_stats["failovers"] >= 1


def test_a_pool_is_one_identity_whatever_the_order_and_weights():
    a, b = "http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"
    first = OpenAITeacher.identity_for(OpenAITeacherOptions(model="m", base_url=[a, b]))
    again = OpenAITeacher.identity_for(OpenAITeacherOptions(model="m", base_url=[{"url": b, "weight": 2}, a],
                                                            endpoint_concurrency=3))
    assert first == again


RECIPE = """\
name: pool-run
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: 100
teacher:
  plugin: openai
  model: gpt-4o-mini
  api: completions
  base_url:
    - {a}
    - {b}
  endpoint_concurrency: 2
  concurrency: 4
  backoff_initial_s: 0.05
export:
  enabled: false
"""


def _server(tmp_path: Path, name: str) -> tuple[subprocess.Popen, str, Path]:
    log = tmp_path / f"{name}.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "factory_openai.loopback", "--port", "0", "--latency", "0.05",
                             "--responder", "factory.testing.responders:self_instruct_responder", "--log", str(log)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ})
    return proc, proc.stdout.readline().strip(), log


def _prompts(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [json.loads(line)["body"]["prompt"] for line in log.read_text().splitlines() if line.strip()]


def test_an_endpoint_killed_mid_run_the_run_finishes_on_the_other(tmp_path):
    a, url_a, log_a = _server(tmp_path, "a")
    b, url_b, log_b = _server(tmp_path, "b")
    try:
        def kill_a_after_some_requests():
            while len(_prompts(log_a)) < 2:
                time.sleep(0.01)
            a.send_signal(signal.SIGKILL)
        threading.Thread(target=kill_a_after_some_requests, daemon=True).start()
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(seeds=write_seeds(tmp_path / "seeds.jsonl"), a=url_a, b=url_b))
        result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
        assert result.returncode == 0, result.stderr
        assert a.wait(timeout=10) == -signal.SIGKILL  # really killed mid-run
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["status"] == "finished" and stats["accepted"] >= 100
    assert "teacher_failed" not in stats["rejections"]
    on_a, on_b = _prompts(log_a), _prompts(log_b)
    assert len(on_a) >= 2 and on_b
    # server-side: every request the run paid for was received once, plus at most the requests A died
    # holding unanswered (its endpoint_concurrency), which were sent again to B
    resent = len(on_a) + len(on_b) - stats["totals"]["requests"]
    assert 0 <= resent <= 2
    endpoints = {e["url"]: e for e in stats["endpoints"]}  # per-endpoint stats in stats.json
    assert endpoints[url_a.rstrip("/")]["failed"] >= 1 and endpoints[url_b.rstrip("/")]["succeeded"] > 0
    assert sum(e["succeeded"] for e in endpoints.values()) == stats["totals"]["requests"]


def test_a_resumed_runs_endpoint_stats_count_every_invocations_requests(tmp_path):
    a, url_a, log_a = _server(tmp_path, "a")
    b, url_b, log_b = _server(tmp_path, "b")
    try:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(seeds=write_seeds(tmp_path / "seeds.jsonl"), a=url_a, b=url_b))
        first = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q", "--set", "method.target=30")
        assert first.returncode == 0, first.stderr
        before = {e["url"]: e["requests"] for e in json.loads((tmp_path / "run" / "stats.json").read_text())["endpoints"]}
        second = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")  # the same run, to 100
        assert second.returncode == 0, second.stderr
    finally:
        for proc in (a, b):
            proc.kill()
            proc.wait()
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["status"] == "finished" and stats["accepted"] >= 100
    endpoints = {e["url"]: e for e in stats["endpoints"]}
    received = {url_a.rstrip("/"): len(_prompts(log_a)), url_b.rstrip("/"): len(_prompts(log_b))}
    # server-side counts over both invocations, endpoint by endpoint
    assert {url: e["requests"] for url, e in endpoints.items()} == received
    assert all(received[url] > count for url, count in before.items())  # the second invocation added to both
    assert sum(e["succeeded"] for e in endpoints.values()) == stats["totals"]["requests"] == sum(received.values())
