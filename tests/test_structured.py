"""Structured outputs: the schema travels with the request, replies are read tolerantly and validated,
invalid ones are asked for again a bounded number of times, then rejected with a reason."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

import pydantic
import pytest

from factory.costs import Usage
from factory.structured import (
    SCHEMA_INVALID,
    StructuredReplyError,
    complete_structured,
    json_values,
    parse_reply,
    response_schema,
)
from factory.teachers import TeacherRequest
from factory.teaching import ResponseCache, TeacherClient, TeacherSettings, TeacherStopped
from factory_openai.loopback import LoopbackOpenAI

REPO = Path(__file__).resolve().parents[1]
try:
    from factory_openai import OpenAITeacher
except ImportError:  # pragma: no cover - the plugin is not installed
    sys.path.insert(0, str(REPO / "plugins" / "openai"))
    from factory_openai import OpenAITeacher


class Verdict(pydantic.BaseModel, extra="forbid"):
    score: int = pydantic.Field(ge=1, le=5)
    reason: str


class Loose(pydantic.BaseModel):
    score: int
    note: str = ""


VALID = '{"score": 4, "reason": "clear and correct"}'
JUDGE = TeacherRequest(messages=(("user", "Rate this answer from 1 to 5 and say why, as JSON."),), max_tokens=64)


def test_json_is_found_in_fences_prose_and_trailing_text():
    assert next(json_values(VALID)) == {"score": 4, "reason": "clear and correct"}
    assert parse_reply(f"```json\n{VALID}\n```", Verdict).score == 4
    assert parse_reply(f"Sure! Here is my verdict:\n{VALID}\nHope that helps.", Verdict).reason == "clear and correct"
    assert parse_reply('[1, 2] and then {"score": 2, "reason": "thin"}', Verdict).score == 2  # the first value that fits
    with pytest.raises(StructuredReplyError, match="no JSON value"):
        parse_reply("I would give it a four.", Verdict)
    with pytest.raises(StructuredReplyError, match=r"does not match Verdict: score: Input should be less than or equal to 5"):
        parse_reply('{"score": 9, "reason": "great"}', Verdict)


def test_the_schema_is_strict_only_when_the_model_is_closed():
    strict, loose = response_schema(Verdict), response_schema(Loose)
    assert strict.name == "Verdict" and strict.strict and strict.as_dict()["properties"]["score"]["maximum"] == 5
    assert not loose.strict  # a field with a default is not required: OpenAI's strict mode would refuse it
    assert JUDGE.cache_key("t") != TeacherRequest(**{**JUDGE.__dict__, "response_schema": strict}).cache_key("t")


def test_unset_schema_keeps_old_cache_keys():
    import hashlib
    from dataclasses import asdict

    request = TeacherRequest(prompt="p", stop=("\n20",), sample="1:2")
    legacy = {k: v for k, v in asdict(request).items() if k != "response_schema"}
    blob = json.dumps({"teacher": "t", **legacy}, sort_keys=True, ensure_ascii=False, default=str)
    assert request.cache_key("t") == hashlib.sha256(blob.encode("utf-8")).hexdigest()


@contextlib.asynccontextmanager
async def structured_client(server, tmp_path=None, **options):
    teacher = OpenAITeacher(model="loopback-model", base_url=server.base_url, **options)
    cache = ResponseCache(tmp_path / "teacher.sqlite") if tmp_path is not None else None
    client = TeacherClient(teacher, TeacherSettings(backoff_initial_s=0.01), cache=cache, usage=Usage(), budget=None)
    try:
        yield client
    finally:
        await client.aclose()


def ask(server, model=Verdict, attempts=3, tmp_path=None, **options):
    async def go():
        async with structured_client(server, tmp_path, **options) as client:
            return await complete_structured(client, JUDGE, model, attempts)

    return asyncio.run(go())


def test_a_server_with_schema_support_gets_response_format(tmp_path):
    with LoopbackOpenAI() as server:
        server.script(VALID)
        result = ask(server)
    assert result.ok and result.value == Verdict(score=4, reason="clear and correct") and result.attempts == 1
    (entry,) = server.requests
    sent = entry["body"]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Verdict" and sent["json_schema"]["strict"]
    assert sent["json_schema"]["schema"] == Verdict.model_json_schema()


def test_without_schema_support_the_teacher_falls_back_to_the_tolerant_parser():
    with LoopbackOpenAI() as server:
        server.supports_response_format = False
        server.script(f"Here you go:\n```json\n{VALID}\n```", VALID)

        async def go():
            async with structured_client(server) as client:
                first = await complete_structured(client, JUDGE, Verdict)
                second = await complete_structured(client, JUDGE.__class__(**{**JUDGE.__dict__, "sample": "2"}), Verdict)
                return first, second

        first, second = asyncio.run(go())
    assert first.ok and second.ok
    assert ["response_format" in e["body"] for e in server.requests] == [True, False, False]  # learnt after one 400


def test_invalid_replies_are_retried_with_fresh_cache_keys_then_rejected_with_a_reason(tmp_path):
    with LoopbackOpenAI() as server:
        server.script("not json at all", '{"score": 7, "reason": "x"}', VALID)
        result = ask(server, tmp_path=tmp_path)
        assert result.ok and result.attempts == 3
        assert len(server.requests) == 3 and len(ResponseCache(tmp_path / "teacher.sqlite")) == 3  # one key per attempt
        again = ask(server, tmp_path=tmp_path)  # a rerun replays every attempt from the cache
        assert again.ok and again.attempts == 3 and len(server.requests) == 3 and again.completion.cached

        server.script("still prose", '{"score": 0, "reason": ""}')
        rejected = ask(server, attempts=2)
    assert not rejected.ok and rejected.value is None and rejected.attempts == 2
    assert rejected.reason.startswith(f"{SCHEMA_INVALID}: JSON does not match Verdict: score:")
    assert "(after 2 attempt(s))" in rejected.reason


def test_structured_outputs_never_and_always():
    with LoopbackOpenAI() as server:
        server.script(VALID)
        assert ask(server, structured_outputs="never").ok
        assert "response_format" not in server.requests[-1]["body"]
        server.supports_response_format = False
        with pytest.raises(TeacherStopped, match="400 bad request: Unrecognized request argument supplied: response_format"):
            ask(server, structured_outputs="always")


def test_the_completions_api_sends_no_response_format():
    with LoopbackOpenAI() as server:
        server.script(VALID)
        assert ask(server, api="completions").ok
        assert "response_format" not in server.requests[-1]["body"]
