"""The openai teacher plugin: wire format, options, key handling, error mapping (with the server's own message),
streaming and optional fields a server refuses, via a loopback server."""

from __future__ import annotations

import json

import asyncio
import email.utils
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.costs import Usage
from factory.errors import UserError
from factory.teachers import FatalTeacherError, RetryableTeacherError, TeacherRequest
from factory.teaching import TeacherClient, TeacherSettings
from factory.testing.helpers import run_cli
from factory_openai.errors import server_message
from factory_openai.loopback import LoopbackOpenAI, Reply, count_tokens, default_responder

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
try:
    from factory_openai import OpenAITeacher, OpenAITeacherOptions
    from factory_openai.teacher import is_local_url, parse_retry_after
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(PLUGIN_ROOT))
    from factory_openai import OpenAITeacher, OpenAITeacherOptions
    from factory_openai.teacher import is_local_url, parse_retry_after

KEY_ENV = "FACTORY_TEST_OPENAI_PLUGIN_KEY"
KEY = "plugin-SECRET-abcdef0123456789"  # not sk-shaped: the exact key must be scrubbed, not a pattern


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def server():
    with LoopbackOpenAI() as srv:
        yield srv


def ask(teacher: OpenAITeacher, request: TeacherRequest):
    async def go():
        try:
            return await teacher.complete(request)
        finally:
            await teacher.aclose()

    return asyncio.run(go())


def make(server, **options) -> OpenAITeacher:
    return OpenAITeacher(**{"model": "loopback-model", "base_url": server.base_url, "api_key_env": KEY_ENV, **options})


def test_chat_request_on_the_wire_and_usage(server):
    teacher = make(server, extra_body={"top_k": 40, "repetition_penalty": 1.1})
    request = TeacherRequest(
        messages=(("system", "You write tasks."), ("user", "Give me one task about cooking.")),
        max_tokens=77, temperature=0.7, top_p=0.9, stop=("\n20", "###"), extra=(("top_k", 5),),
    )
    server.script("Chop an onion finely.\n### ignored after the stop")
    completion = ask(teacher, request)
    (entry,) = server.requests
    body = entry["body"]
    assert entry["path"] == "/v1/chat/completions"
    assert body["model"] == "loopback-model" and body["max_tokens"] == 77
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9 and body["stop"] == ["\n20", "###"]
    assert body["messages"] == [
        {"role": "system", "content": "You write tasks."},
        {"role": "user", "content": "Give me one task about cooking."},
    ]
    assert body["top_k"] == 5 and body["repetition_penalty"] == 1.1  # request extras override the options
    assert completion.text == "Chop an onion finely.\n" and completion.finish_reason == "stop"
    assert completion.prompt_tokens == count_tokens("You write tasks. Give me one task about cooking.")
    assert completion.completion_tokens == 4 and not completion.cached


def test_completions_api_and_length_finish(server):
    teacher = make(server, api="completions")
    server.script("one two three four five six seven eight")
    completion = ask(teacher, TeacherRequest(prompt="List numbers:", max_tokens=3))
    (entry,) = server.requests
    assert entry["path"] == "/v1/completions" and entry["body"]["prompt"] == "List numbers:"
    assert "messages" not in entry["body"]
    assert completion.text == "one two three" and completion.finish_reason == "length"
    assert (completion.prompt_tokens, completion.completion_tokens) == (2, 3)


def test_completions_api_joins_chat_messages_and_keeps_scripted_finish_reason(server):
    teacher = make(server, api="completions")
    server.script(Reply("a reply", finish_reason="content_filter"))
    completion = ask(teacher, TeacherRequest(messages=(("system", "Be brief."), ("user", "Hi")), max_tokens=10))
    assert server.requests[0]["body"]["prompt"] == "Be brief.\n\nHi"
    assert completion.finish_reason == "content_filter"


def test_identity_has_model_api_and_host_but_no_secret():
    assert OpenAITeacher(model="gpt-4o").identity == {"model": "gpt-4o", "base_url": "https://api.openai.com/v1",
                                                      "api": "chat", "extra_body": {}}
    teacher = OpenAITeacher(model="llama", api="completions", base_url="http://user:hunter2@10.0.0.5:8000/v1")
    assert teacher.identity["base_url"] == "http://10.0.0.5:8000/v1"
    assert "hunter2" not in json.dumps(teacher.identity) and "hunter2" not in teacher.label


def test_options_are_documented_and_validated():
    assert all(field.description for field in OpenAITeacherOptions.model_fields.values())
    with pytest.raises(UserError, match="teacher.temperatur"):
        OpenAITeacher(model="m", temperatur=0.3)
    with pytest.raises(UserError, match="teacher.api"):
        OpenAITeacher(model="m", api="responses")
    with pytest.raises(UserError, match="teacher.model"):
        OpenAITeacher()
    with pytest.raises(UserError, match="base_url"):
        OpenAITeacher(model="m", base_url="127.0.0.1:8000")


def test_missing_key_for_a_remote_server_names_the_variable(monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    teacher = OpenAITeacher(model="gpt-4o-mini", api_key_env=KEY_ENV)  # built fine: --estimate needs no key
    with pytest.raises(UserError, match=f"environment variable {KEY_ENV} is not set.*api.openai.com"):
        ask(teacher, TeacherRequest(prompt="hi"))


def test_local_server_needs_no_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with LoopbackOpenAI(api_key="not-needed") as srv:  # the placeholder is what arrives
        completion = ask(make(srv), TeacherRequest(prompt="hello"))
    assert completion.text.startswith("loopback reply")
    assert is_local_url("http://localhost:11434/v1") and is_local_url("http://192.168.1.20:8000/v1")
    assert not is_local_url("https://api.openai.com/v1") and not is_local_url(None)


def test_the_key_from_the_environment_is_sent():
    with LoopbackOpenAI(api_key=KEY) as srv:
        assert ask(make(srv), TeacherRequest(prompt="hello")).text.startswith("loopback reply")


@pytest.mark.parametrize(
    ("fault", "kind", "status", "fragment"),
    [
        (("429", 7), RetryableTeacherError, 429, "429"),
        (("500",), RetryableTeacherError, 500, "500"),
        (("malformed",), RetryableTeacherError, None, "malformed JSON"),
        (("disconnect",), RetryableTeacherError, None, "connection"),
        (("401",), FatalTeacherError, 401, f"401 authentication failed (check {KEY_ENV})"),
        (("404",), FatalTeacherError, 404, "model `loopback-model` does not exist"),
        (("quota",), FatalTeacherError, 429, "429 quota exhausted (insufficient_quota)"),
        (("400",), FatalTeacherError, 400, "400 bad request"),
    ],
)
def test_errors_map_to_retryable_or_fatal_without_the_key(server, fault, kind, status, fragment):
    server.bad_request_message = f"Incorrect API key provided: {KEY}; the key sk-proj-Other123456 is wrong too"
    server.inject(fault)
    with pytest.raises(kind) as caught:
        ask(make(server), TeacherRequest(prompt="hello"))
    error = caught.value
    assert fragment in str(error) and error.status == status
    assert KEY not in str(error) and "SECRET" not in str(error) and "Other123456" not in str(error)
    if fault[0] == "429":
        assert error.retry_after == 7.0


def test_timeout_is_retryable_at_the_http_layer(server, monkeypatch):
    import factory_openai.teacher as module

    monkeypatch.setattr(module, "HTTP_TIMEOUT_S", 0.3)
    server.inject(("timeout", 3))
    with pytest.raises(RetryableTeacherError, match="timed out"):
        ask(make(server), TeacherRequest(prompt="hello"))


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= parse_retry_after({"retry-after": date}) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def test_registered_through_the_entry_point_group():
    from factory.plugins import get_registry

    entry = get_registry(refresh=True).get("teacher", "openai")
    assert entry.obj is OpenAITeacher and entry.distribution == "koalpaca-factory-openai"


def test_importing_the_plugin_does_not_import_openai():
    code = "import sys, factory_openai; print('openai' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGIN_ROOT), str(PLUGIN_ROOT.parents[1])])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"


def test_high_concurrency_spreads_over_client_shards(server):
    from factory.costs import Usage
    from factory.teaching import TeacherClient, TeacherSettings
    from factory_openai.teacher import SHARD_SIZE

    server.latency_s = 0.2
    teacher = make(server)

    async def go():
        client = TeacherClient(teacher, TeacherSettings(concurrency=40), cache=None, usage=Usage(), budget=None)
        try:
            results = await client.complete_many([TeacherRequest(prompt=f"task {i}") for i in range(40)])
            shards = teacher._clients[teacher.base_url]  # one URL: one list of client shards
            return results, len(shards), [busy for _, busy in shards]
        finally:
            await client.aclose()

    results, shards, busy = asyncio.run(go())
    assert [r.text for r in results] == [f"loopback reply to: task {i}" for i in range(40)]
    assert server.max_in_flight == 40
    assert shards == -(-40 // SHARD_SIZE) and busy == [0] * shards  # every checkout was returned


# -- streaming -------------------------------------------------------------------------------------
PROMPT = "Name three colours of the rainbow, please."


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_a_stream_with_a_usage_chunk_gives_text_usage_and_timings(server, api):
    server.chunk_delay_s = 0.02
    completion = ask(make(server, stream=True, api=api), TeacherRequest(prompt=PROMPT, max_tokens=50))
    (entry,) = server.requests
    assert entry["body"]["stream"] is True and entry["body"]["stream_options"] == {"include_usage": True}
    expected = default_responder({"prompt": PROMPT})
    assert completion.text == expected and completion.finish_reason == "stop"
    assert (completion.prompt_tokens, completion.completion_tokens) == (count_tokens(PROMPT), count_tokens(expected))
    assert "usage_estimated" not in completion.raw
    words = count_tokens(expected)
    assert 0 <= completion.time_to_first_token_s < completion.generation_s
    assert completion.generation_s >= 0.02 * (words - 1) * 0.8  # the chunks really arrived one by one


def test_a_stream_without_usage_counts_its_chunks(server):
    server.stream_usage = False
    completion = ask(make(server, stream=True), TeacherRequest(prompt=PROMPT, max_tokens=50))
    expected = default_responder({"prompt": PROMPT})
    assert completion.text == expected and completion.raw["usage_estimated"] is True
    assert completion.completion_tokens == count_tokens(expected)  # one chunk per token, as real servers send


def test_a_stream_cut_at_max_tokens_ends_with_length(server):
    completion = ask(make(server, stream=True), TeacherRequest(prompt=PROMPT, max_tokens=3))
    assert completion.finish_reason == "length" and count_tokens(completion.text) == 3


def test_a_stream_that_breaks_off_is_retryable(server):
    server.inject(("stream_cut",))
    with pytest.raises(RetryableTeacherError, match="connection to 127.0.0.1:.* (failed|broke)"):
        ask(make(server, stream=True), TeacherRequest(prompt=PROMPT))


def test_stream_timings_reach_the_usage_counters(server):
    server.chunk_delay_s = 0.01
    usage = Usage()

    async def go():
        client = TeacherClient(make(server, stream=True), TeacherSettings(concurrency=4), cache=None, usage=usage,
                               budget=None)
        try:
            return await client.complete_many([TeacherRequest(prompt=f"{PROMPT} {i}") for i in range(4)])
        finally:
            await client.aclose()

    results = asyncio.run(go())
    assert usage.streamed_requests == 4 and usage.streamed_completion_tokens == sum(r.completion_tokens for r in results)
    assert usage.time_to_first_token_s == pytest.approx(sum(r.time_to_first_token_s for r in results))
    data = usage.as_dict()
    assert data["mean_time_to_first_token_s"] > 0 and 0 < data["stream_tokens_per_s"] < 1000  # ~100 at 10 ms a chunk
    restored = Usage()
    restored.load(json.loads(json.dumps(data)))  # derived entries are ignored on resume
    assert restored.streamed_requests == 4


def test_stream_in_extra_body_is_refused_at_validation_with_a_pointer_to_the_option(tmp_path):
    for key in ("stream", "stream_options"):
        with pytest.raises(UserError, match=rf"teacher.extra_body: '{key}' does not belong in extra_body.*teacher.stream: true"):
            OpenAITeacher(model="m", extra_body={key: True})
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\nlanguage: en\nmethod:\n  target: 5\nteacher:\n  plugin: openai\n  model: m\n"
                      "  extra_body:\n    stream: true\n", encoding="utf-8")
    done = run_cli("validate", str(recipe))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "r.yaml:9:5: teacher.extra_body" in done.stderr and "set teacher.stream: true instead" in done.stderr


def test_a_server_that_refuses_stream_options_still_streams(server):
    server.supports_stream_options = False
    teacher = make(server, stream=True)

    async def go():
        try:
            return [await teacher.complete(TeacherRequest(prompt=f"{PROMPT} {i}")) for i in range(2)]
        finally:
            await teacher.aclose()

    first, second = asyncio.run(go())
    assert first.text and second.text and first.raw["usage_estimated"]
    sent = [("stream_options" in e["body"]) for e in server.requests]
    assert sent == [True, False, False]  # refused once, then never sent to this server again


# -- the server's own message in every error line ---------------------------------------------------
@pytest.mark.parametrize("style", ["openai", "detail", "message", "text"])
def test_the_server_message_is_in_fatal_and_retryable_errors(server, style):
    server.error_style = style
    server.bad_request_message = "max_tokens is too large for this model (4096 at most)"
    server.inject(("400",))
    with pytest.raises(FatalTeacherError) as fatal:
        ask(make(server), TeacherRequest(prompt=PROMPT))
    assert str(fatal.value) == "400 bad request: max_tokens is too large for this model (4096 at most)"
    server.inject(("500",))
    with pytest.raises(RetryableTeacherError) as retryable:
        ask(make(server), TeacherRequest(prompt=PROMPT))
    assert "500 The server had an error while processing the request (loopback)." == str(retryable.value)
    server.inject(("401",))
    with pytest.raises(FatalTeacherError, match=rf"401 authentication failed \(check {KEY_ENV}\): Incorrect API key"):
        ask(make(server), TeacherRequest(prompt=PROMPT))


def test_server_message_reads_every_known_shape():
    assert server_message({"message": "m"}) == "m"
    assert server_message({"detail": "d"}) == "d"
    assert server_message({"detail": [{"loc": ["body", "max_tokens"], "msg": "must be positive"}]}) == \
        "body.max_tokens: must be positive"
    assert server_message({"error": "model 'x' not found"}) == "model 'x' not found"
    assert server_message({"error": {"message": "nested"}}) == "nested"
    assert server_message("plain text") == "plain text" and server_message({}) == "" and server_message(None) == ""


def test_retried_error_lines_carry_the_server_message(server, caplog):
    server.error_style = "detail"
    server.inject(("500",))

    async def go():
        client = TeacherClient(make(server), TeacherSettings(backoff_initial_s=0.01), cache=None, usage=Usage(),
                               budget=None)
        try:
            return await client.complete(TeacherRequest(prompt=PROMPT))
        finally:
            await client.aclose()

    with caplog.at_level("INFO", logger="factory.teaching"):
        assert asyncio.run(go()).text
    assert any("500 The server had an error while processing the request (loopback).; retry 1" in r.getMessage()
               for r in caplog.records)


def test_an_error_event_inside_a_stream_carries_the_server_message(server):
    server.inject(("stream_error",))
    with pytest.raises(RetryableTeacherError, match="500 The engine died while generating"):
        ask(make(server, stream=True), TeacherRequest(prompt=PROMPT))


def test_sse_data_joins_lines_skips_comments_and_stops_at_done():
    from factory_openai.sse import sse_data

    async def collect(lines):
        async def feed():
            for line in lines:
                yield line

        return [payload async for payload in sse_data(feed())]

    lines = [": keep-alive", "", "event: message", "data: {\"a\":", "data: 1}", "", "data:{\"b\": 2}", "",
             "data: [DONE]", "", "data: {\"after\": true}", ""]
    assert asyncio.run(collect(lines)) == ['{"a":\n1}', '{"b": 2}']
    assert asyncio.run(collect(["data: {\"tail\": 1}"])) == ['{"tail": 1}']  # no blank line before the end
