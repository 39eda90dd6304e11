"""TeacherClient (limits, retries, cache, cost, budget) through the real openai client and a loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.costs import Budget, BudgetExceeded, Usage
from factory_openai.prices import list_price
from factory.errors import StopRun
from factory.teachers import TeacherRequest
from factory.teaching import (
    ResponseCache,
    TeacherClient,
    TeacherRequestFailed,
    TeacherSettings,
    TeacherStopped,
    TokenBucket,
    estimate_text_tokens,
)
from factory_openai.loopback import LoopbackOpenAI, count_tokens, default_responder

REPO = Path(__file__).resolve().parents[1]
OPENAI_PLUGIN = REPO / "plugins" / "openai"
try:
    from factory_openai import OpenAITeacher
except ImportError:  # the plugin distribution is not installed: use it from the source tree
    sys.path.insert(0, str(OPENAI_PLUGIN))
    from factory_openai import OpenAITeacher

KEY_ENV = "FACTORY_TEST_TEACHING_KEY"
KEY = "sk-" + "teaching-SECRET-0123456789abcdef"  # fake, assembled at run time
MODEL = "loopback-model"
FAST = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}


@pytest.fixture(autouse=True)
def _api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def server():
    with LoopbackOpenAI() as srv:
        yield srv


@contextlib.asynccontextmanager
async def teacher_client(server, *, cache=None, budget=None, usage=None, model=MODEL, **settings):
    teacher = OpenAITeacher(model=model, base_url=server.base_url, api_key_env=KEY_ENV)
    client = TeacherClient(
        teacher,
        TeacherSettings(**{**FAST, **settings}),
        cache=cache,
        usage=usage if usage is not None else Usage(),
        budget=budget,
        price=OpenAITeacher.price_for(teacher.options),
    )
    try:
        yield client
    finally:
        await client.aclose()


def request(text: str = "Name three colours of the rainbow.", **kwargs) -> TeacherRequest:
    return TeacherRequest(prompt=text, **{"max_tokens": 64, **kwargs})


def run(coro):
    return asyncio.run(coro)


# -- settings and estimates ------------------------------------------------------------------


def test_settings_are_documented_and_strict():
    assert all(field.description for field in TeacherSettings.model_fields.values())
    with pytest.raises(Exception, match="concurency"):
        TeacherSettings(concurency=3)
    settings = TeacherSettings.model_validate({"price": {"input_per_1m": 2.0, "output_per_1m": 3.0}})
    assert (settings.price.input_per_1m, settings.price.output_per_1m) == (2.0, 3.0)


def test_estimate_uses_price_table_and_override(server):
    async def scenario():
        async with teacher_client(server, model="gpt-4o-mini") as client:
            price_in, price_out = list_price("gpt-4o-mini").input_per_1m, list_price("gpt-4o-mini").output_per_1m
            assert client.estimate(10, 1000, 500) == pytest.approx(10 * (1000 * price_in + 500 * price_out) / 1e6)
        async with teacher_client(server, model="gpt-4o-mini", price={"input_per_1m": 4.0, "output_per_1m": 8.0}) as client:
            assert client.estimate(3, 1_000_000, 500_000) == pytest.approx(3 * (4.0 + 4.0))
        async with teacher_client(server, model="my-local-llama") as client:
            assert client.estimate(100, 1000, 1000) == 0.0  # unknown (self-hosted) models are free

    run(scenario())
    assert server.requests == []  # estimating sends nothing


def test_token_estimate_does_not_undercount_hangul():
    english, korean = "Write a short poem about the sea.", "바다에 관한 짧은 시를 써 주세요."
    assert estimate_text_tokens(english) == -(-len(english) // 4)
    # each Hangul syllable counts as a token (BPE tokenizers spend one or more on it)
    assert estimate_text_tokens(korean) >= sum(1 for ch in korean if ord(ch) > 127)


# -- usage, retries and failures -------------------------------------------------------------


def test_usage_and_cost_follow_server_usage(server):
    prompts = [f"Describe item number {i} in a few words." for i in range(5)]

    async def scenario():
        async with teacher_client(server, model="gpt-4o-mini") as client:
            results = await client.complete_many([request(p) for p in prompts])
            return results, client.usage

    results, usage = run(scenario())
    expected_prompt = sum(count_tokens(p) for p in prompts)
    expected_completion = sum(count_tokens(default_responder({"prompt": p})) for p in prompts)
    assert [r.text for r in results] == [default_responder({"prompt": p}) for p in prompts]
    assert (usage.requests, usage.retries, usage.failed_requests, usage.cached_requests) == (5, 0, 0, 0)
    assert (usage.prompt_tokens, usage.completion_tokens) == (expected_prompt, expected_completion)
    price_in, price_out = list_price("gpt-4o-mini").input_per_1m, list_price("gpt-4o-mini").output_per_1m
    assert usage.cost_usd == pytest.approx((expected_prompt * price_in + expected_completion * price_out) / 1e6)


def test_429_retry_waits_for_retry_after(server):
    server.inject(("429", 0.6))

    async def scenario():
        async with teacher_client(server) as client:
            return await client.complete(request()), client.usage

    completion, usage = run(scenario())
    assert completion.text == default_responder({"prompt": request().prompt})
    first, second = server.requests
    assert first["fault"] == ["429"] + [0.6] and second["fault"] is None
    assert second["t"] - first["t"] >= 0.55  # backoff alone would be <= 0.01 s
    assert (usage.requests, usage.retries, usage.failed_requests) == (1, 1, 0)


def test_500_timeout_malformed_and_disconnect_are_retried(server):
    server.inject(("500",), ("timeout", 3), ("malformed",), ("disconnect",))

    async def scenario():
        async with teacher_client(server, timeout_s=0.4) as client:
            start = time.perf_counter()
            completion = await client.complete(request())
            return completion, client.usage, time.perf_counter() - start

    completion, usage, elapsed = run(scenario())
    assert completion.text == default_responder({"prompt": request().prompt}) and not completion.cached
    assert [r["fault"] and r["fault"][0] for r in server.requests] == ["500", "timeout", "malformed", "disconnect", None]
    assert len({json.dumps(r["body"], sort_keys=True) for r in server.requests}) == 1  # the same request each time
    assert (usage.requests, usage.retries, usage.failed_requests) == (1, 4, 0)
    assert 0.4 <= elapsed < 2.5  # the hung attempt was abandoned at timeout_s, not after the server's 3 s


def test_attempts_are_bounded_then_recorded_as_failed_and_the_run_goes_on(server):
    server.inject(("500",), ("500",), ("500",))

    async def scenario():
        async with teacher_client(server, max_attempts=3) as client:
            with pytest.raises(TeacherRequestFailed) as failed:
                await client.complete(request("first"))
            assert failed.value.attempts == 3 and "500" in failed.value.reason
            assert len(server.requests) == 3
            after = await client.complete(request("second"))  # not a stop: later requests still go out
            return after, client.usage

    after, usage = run(scenario())
    assert after.text == default_responder({"prompt": "second"})
    assert (usage.requests, usage.retries, usage.failed_requests) == (2, 2, 1)
    assert len(server.requests) == 4


def test_complete_many_keeps_order_and_reports_failures_in_place(server):
    server.inject(("500",))  # the first request to arrive (task 0: one at a time, in order) fails

    async def scenario():
        async with teacher_client(server, max_attempts=1, concurrency=1) as client:
            return await client.complete_many([request(f"task {i}") for i in range(4)]), client.usage

    results, usage = run(scenario())
    assert isinstance(results[0], TeacherRequestFailed)
    assert [r.text for r in results[1:]] == [default_responder({"prompt": f"task {i}"}) for i in range(1, 4)]
    assert usage.failed_requests == 1 and usage.requests == 4


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("401", f"401 authentication failed (check {KEY_ENV})"),
        ("404", f"404 not found: The model `{MODEL}` does not exist"),
        ("quota", "429 quota exhausted"),
        ("400", "400 bad request"),
    ],
)
def test_fatal_errors_stop_the_run_without_leaking_the_key(server, fault, expected):
    server.bad_request_message = f"Invalid 'messages': key {KEY} is not allowed here."  # a server echoing the key
    server.inject((fault,))

    async def scenario():
        async with teacher_client(server) as client:
            with pytest.raises(TeacherStopped) as stopped:
                await client.complete(request())
            with pytest.raises(StopRun):  # stopped: nothing else is sent
                await client.complete(request("another"))
            return stopped.value, client.usage

    error, usage = run(scenario())
    message = str(error)
    assert expected in message and message.startswith("teacher chat:loopback-model@127.0.0.1:")
    assert "\n" not in message and KEY not in message and "SECRET" not in message
    assert len(server.requests) == 1 and usage.retries == 0


def test_wrong_key_is_a_stop_with_a_clear_message():
    with LoopbackOpenAI(api_key="sk-the-right-one") as srv:

        async def scenario():
            async with teacher_client(srv) as client:
                with pytest.raises(TeacherStopped, match=f"401 authentication failed \\(check {KEY_ENV}\\)"):
                    await client.complete(request())

        run(scenario())


def test_a_stop_lets_requests_in_flight_finish_and_keeps_them(server, tmp_path):
    server.latency_s = 0.3
    server.inject(("401",))  # the first request to arrive is refused at once; three others are in flight

    async def scenario(cache):
        async with teacher_client(server, cache=cache, concurrency=4) as client:
            done = []
            with pytest.raises(TeacherStopped):
                async for index, result in client.complete_iter([request(f"task {i}") for i in range(20)]):
                    done.append(index)
            return done

    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        done = run(scenario(cache))
        assert len(server.requests) == 4  # nothing new after the 401
        assert len(done) == 3 and len(cache) == 3  # the three in flight finished and were saved


# -- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [3, 12])
def test_concurrency_bound_is_what_the_server_sees(server, concurrency):
    server.latency_s = 0.1

    async def scenario():
        async with teacher_client(server, concurrency=concurrency) as client:
            start = time.perf_counter()
            results = await client.complete_many([request(f"task {i}") for i in range(36)])
            return results, time.perf_counter() - start

    results, elapsed = run(scenario())
    assert all(not isinstance(r, TeacherRequestFailed) for r in results)
    assert server.max_in_flight == concurrency
    assert elapsed >= 36 / concurrency * 0.1 * 0.9


def test_requests_per_minute_spaces_requests(server):
    async def scenario(**settings):
        async with teacher_client(server, **settings) as client:
            await client.complete(request(f"warm-up {settings}"))  # the first call imports and connects
            start = time.perf_counter()
            await client.complete_many([request(f"task {i} {settings}") for i in range(25)])
            return time.perf_counter() - start

    unlimited = run(scenario(concurrency=25))
    server.reset_counters()
    limited = run(scenario(concurrency=25, requests_per_minute=600))  # 10 per second, bursts of 10
    assert unlimited < 0.8
    assert limited >= 1.4  # 16 requests beyond the rest of the burst at 10/s
    times = sorted(r["t"] for r in server.requests)
    # a token bucket admits at most burst + rate * T in any window of T seconds (+1: the warm-up)
    assert max(sum(1 for t in times if t0 <= t < t0 + 0.5) for t0 in times) <= 10 + 5 + 1


def test_tokens_per_minute_spaces_requests(server):
    server.respond = lambda body: " ".join(["word"] * 50)  # 50 completion tokens + 1 prompt token each

    async def scenario():
        async with teacher_client(server, concurrency=40, tokens_per_minute=60_000) as client:  # 1000/s
            start = time.perf_counter()
            results = await client.complete_many([request(f"t{i}", max_tokens=50) for i in range(40)])
            return results, client.usage, time.perf_counter() - start

    results, usage, elapsed = run(scenario())
    assert usage.prompt_tokens + usage.completion_tokens == 40 * 51
    assert elapsed >= (40 * 51 - 1000) / 1000 * 0.9  # one second of burst, then 1000 tokens/s


def test_token_bucket_rate_with_fake_clock():
    now = [0.0]
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    async def scenario():
        bucket = TokenBucket(120, clock=lambda: now[0])  # 2 per second, burst 2
        original = asyncio.sleep
        asyncio.sleep = fake_sleep
        try:
            for _ in range(6):
                await bucket.acquire(1)
        finally:
            asyncio.sleep = original

    run(scenario())
    assert now[0] == pytest.approx(2.0)  # 2 immediately, then 4 more at 2/s


# -- cache -----------------------------------------------------------------------------------


def test_cache_pays_once_and_survives_reopening(server, tmp_path):
    path = tmp_path / "run" / "cache" / "teacher.sqlite"

    async def scenario(cache, req):
        async with teacher_client(server, cache=cache, model="gpt-4o-mini") as client:
            return await client.complete(req), client.usage

    with ResponseCache(path) as cache:
        first, usage1 = run(scenario(cache, request()))
        assert not first.cached and usage1.cost_usd > 0
        second, usage2 = run(scenario(cache, request()))
    assert len(server.requests) == 1
    assert second.cached and second.text == first.text and second.finish_reason == first.finish_reason
    assert (usage2.requests, usage2.cached_requests, usage2.cost_usd, usage2.prompt_tokens) == (0, 1, 0.0, 0)

    with ResponseCache(path) as reopened:  # a resumed run
        third, _ = run(scenario(reopened, request()))
        assert third.cached and third.text == first.text and len(server.requests) == 1
        run(scenario(reopened, request(temperature=0.5)))  # any change to the request is a new request
        assert len(server.requests) == 2
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_key_includes_the_teacher_identity(server, tmp_path):
    async def scenario(cache, model):
        async with teacher_client(server, cache=cache, model=model) as client:
            return await client.complete(request())

    with ResponseCache(tmp_path / "c.sqlite") as cache:
        run(scenario(cache, "model-a"))
        assert not run(scenario(cache, "model-b")).cached
        assert run(scenario(cache, "model-a")).cached
    assert [r["body"]["model"] for r in server.requests] == ["model-a", "model-b"]


def test_identical_requests_in_flight_are_sent_once(server):
    server.latency_s = 0.2

    async def scenario():
        async with teacher_client(server, concurrency=4) as client:
            return await client.complete_many([request(), request(), request("other")]), client.usage

    results, usage = run(scenario())
    assert len(server.requests) == 2
    assert results[0].text == results[1].text and sorted([results[0].cached, results[1].cached]) == [False, True]
    assert usage.requests == 2 and usage.cached_requests == 1


def test_unreadable_cache_entry_is_a_miss(tmp_path):
    from factory.teachers import Completion

    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", Completion(text="hello", finish_reason="stop", prompt_tokens=1, completion_tokens=1))
        assert cache.get("k").text == "hello" and cache.get("k").cached
        cache._conn.execute("UPDATE responses SET value = '{broken' WHERE key = 'k'")
        assert cache.get("k") is None and cache.get("missing") is None


# -- budget ------------------------------------------------------------------------------------


def test_budget_stops_before_it_is_exceeded(server):
    server.respond = lambda body: "one two three four five"  # 5 completion tokens
    price = {"input_per_1m": 1000.0, "output_per_1m": 1000.0}  # $0.001 per token
    budget = Budget(limit_usd=0.05)
    # each request: reserve (2 + 10) tokens = $0.012 up front; actually costs (3 + 5) tokens = $0.008
    prompts = [f"a b c{i}" for i in range(10)]

    async def scenario():
        async with teacher_client(server, budget=budget, price=price, concurrency=1) as client:
            done = []
            with pytest.raises(BudgetExceeded, match="budget_usd"):
                for p in prompts:
                    done.append(await client.complete(request(p, max_tokens=10)))
            with pytest.raises(BudgetExceeded):  # stays stopped
                await client.complete(request("a b c", max_tokens=1))
            return done, client.usage

    done, usage = run(scenario())
    assert len(done) == 5 == len(server.requests)  # the 6th could have passed the cap: never sent
    assert budget.spent_usd == pytest.approx(0.040) and usage.cost_usd == pytest.approx(0.040)
    assert budget.spent_usd <= budget.limit_usd and budget.reserved_usd == pytest.approx(0.0)


def test_budget_holds_under_concurrency(server):
    server.latency_s = 0.05
    budget = Budget(limit_usd=0.2)
    price = {"input_per_1m": 1000.0, "output_per_1m": 1000.0}

    async def scenario():
        async with teacher_client(server, budget=budget, price=price, concurrency=8) as client:
            with pytest.raises(BudgetExceeded):
                await client.complete_many([request(f"task {i}", max_tokens=20) for i in range(100)])
            return client.usage

    usage = run(scenario())
    assert 0 < len(server.requests) < 100
    assert budget.spent_usd <= 0.2 and usage.cost_usd == pytest.approx(budget.spent_usd)
    assert budget.reserved_usd == pytest.approx(0.0)


# -- kill and resume across processes ----------------------------------------------------------

WORKER = r"""
import asyncio, sys
from factory.costs import Usage
from factory.teachers import TeacherRequest
from factory.teaching import ResponseCache, TeacherClient, TeacherSettings
from factory_openai import OpenAITeacher

base_url, cache_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

async def main():
    teacher = OpenAITeacher(model="loopback-model", base_url=base_url)
    client = TeacherClient(teacher, TeacherSettings(concurrency=4), cache=ResponseCache(cache_path),
                           usage=Usage(), budget=None)
    requests = [TeacherRequest(prompt=f"task number {i}", max_tokens=32) for i in range(n)]
    async for index, result in client.complete_iter(requests):
        print(index, "cached" if result.cached else "sent", flush=True)
    await client.aclose()

asyncio.run(main())
"""


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(REPO), str(OPENAI_PLUGIN), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def test_no_request_is_paid_twice_across_a_kill_and_resume(tmp_path):
    n = 40
    log_path = tmp_path / "requests.jsonl"
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER, encoding="utf-8")
    cache_path = tmp_path / "teacher.sqlite"
    server = subprocess.Popen(
        [sys.executable, "-m", "factory_openai.loopback", "--port", "0", "--latency", "0.15", "--log", str(log_path)],
        stdout=subprocess.PIPE, text=True, env=_env(),
    )
    try:
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        first = subprocess.Popen([sys.executable, str(worker), base_url, str(cache_path), str(n)],
                                 stdout=subprocess.PIPE, text=True, env=_env())
        done_first = set()
        while len(done_first) < 12:
            line = first.stdout.readline()
            assert line, "the worker ended early"
            done_first.add(int(line.split()[0]))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        time.sleep(0.2)
        sent_first = [json.loads(line) for line in log_path.read_text().splitlines()]

        second = subprocess.run([sys.executable, str(worker), base_url, str(cache_path), str(n)],
                                capture_output=True, text=True, env=_env(), timeout=60)
        assert second.returncode == 0, second.stderr[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=10)

    outcome = dict(line.split() for line in second.stdout.splitlines())
    assert sorted(int(i) for i in outcome) == list(range(n))
    assert all(outcome[str(i)] == "cached" for i in done_first)  # answered before the kill: free now

    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    prompt = lambda entry: entry["body"]["messages"][0]["content"]  # noqa: E731
    first_prompts = [prompt(e) for e in sent_first]
    second_prompts = [prompt(e) for e in entries[len(sent_first):]]
    answered_first = {f"task number {i}" for i in done_first}
    assert not answered_first & set(second_prompts)  # nothing answered before the kill was sent again
    assert len(second_prompts) == len(set(second_prompts)) and len(first_prompts) == len(set(first_prompts))
    assert set(first_prompts) | set(second_prompts) == {f"task number {i}" for i in range(n)}
    resent = set(first_prompts) & set(second_prompts)  # only requests cut off in flight by the kill
    assert len(resent) <= 4 and len(second_prompts) < n
    assert len(ResponseCache(cache_path)) == n


# -- the loopback server itself ----------------------------------------------------------------


def test_loopback_server_process_with_script_and_log(tmp_path):
    import openai

    script = tmp_path / "replies.jsonl"
    script.write_text(
        '{"text": "first scripted reply", "finish_reason": "stop"}\n{"fault": ["500"]}\n"second scripted reply"\n',
        encoding="utf-8",
    )
    log_path = tmp_path / "log.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "factory_openai.loopback", "--port", "0", "--script", str(script), "--log", str(log_path)],
        stdout=subprocess.PIPE, text=True, env=_env(),
    )
    try:
        base_url = proc.stdout.readline().strip()
        client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
        ask = lambda text: client.chat.completions.create(  # noqa: E731
            model=MODEL, messages=[{"role": "user", "content": text}], max_tokens=20
        )
        assert ask("one").choices[0].message.content == "first scripted reply"
        with pytest.raises(openai.InternalServerError):
            ask("two")
        assert ask("three").choices[0].message.content == "second scripted reply"
        assert ask("four").choices[0].message.content == default_responder({"prompt": "four"})
        assert [m.id for m in client.models.list().data] == [MODEL]
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [e["body"]["messages"][0]["content"] for e in entries] == ["one", "two", "three", "four"]
    assert [e["fault"] for e in entries] == [None, ["500"], None, None]


def test_core_modules_do_not_import_openai():
    code = "import sys, factory.teaching, factory_openai.loopback; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert out.stdout.strip() == "False"


def test_loopback_batched_completions_answer_each_prompt(server):
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    prompts = ["first prompt here", "second one", "third prompt text"]
    response = client.completions.create(model=MODEL, prompt=prompts, max_tokens=5)
    client.close()
    assert [c.index for c in response.choices] == [0, 1, 2]
    expected = [default_responder({"prompt": p}) for p in prompts]
    cut = [" ".join(text.split()[:5]) for text in expected]  # 5-token limit, whitespace tokens
    assert [c.text for c in response.choices] == cut
    assert [c.finish_reason for c in response.choices] == ["length" if c != e else "stop" for c, e in zip(cut, expected)]
    assert response.usage.prompt_tokens == sum(count_tokens(p) for p in prompts)
    assert response.usage.completion_tokens == sum(count_tokens(t) for t in cut)
    assert len(server.requests) == 1
