"""The openai teacher plugin: wire format, options, key handling and error mapping, via a loopback server."""

from __future__ import annotations

import json

import asyncio
import email.utils
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.errors import UserError
from factory.teachers import FatalTeacherError, RetryableTeacherError, TeacherRequest
from factory_openai.loopback import LoopbackOpenAI, Reply, count_tokens

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
            return results, len(teacher._clients), [busy for _, busy in teacher._clients]
        finally:
            await client.aclose()

    results, shards, busy = asyncio.run(go())
    assert [r.text for r in results] == [f"loopback reply to: task {i}" for i in range(40)]
    assert server.max_in_flight == 40
    assert shards == -(-40 // SHARD_SIZE) and busy == [0] * shards  # every checkout was returned
