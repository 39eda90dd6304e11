"""Streaming (teacher.stream: true), server error messages, and optional fields a server refuses."""

from __future__ import annotations

import asyncio
import json

import pytest

from factory.costs import Usage
from factory.errors import UserError
from factory.teachers import FatalTeacherError, RetryableTeacherError, TeacherRequest
from factory.teaching import TeacherClient, TeacherSettings
from factory.testing.helpers import run_cli
from factory_openai import OpenAITeacher
from factory_openai.errors import server_message
from factory_openai.loopback import LoopbackOpenAI, count_tokens, default_responder


@pytest.fixture
def server():
    with LoopbackOpenAI() as srv:
        yield srv


def make(server, **options) -> OpenAITeacher:
    return OpenAITeacher(**{"model": "loopback-model", "base_url": server.base_url, **options})


def ask(teacher: OpenAITeacher, request: TeacherRequest):
    async def go():
        try:
            return await teacher.complete(request)
        finally:
            await teacher.aclose()

    return asyncio.run(go())


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
    with pytest.raises(FatalTeacherError, match=r"401 authentication failed \(check OPENAI_API_KEY\): Incorrect API key"):
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
