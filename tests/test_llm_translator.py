"""The ``llm`` translator through the openai teacher, against the loopback OpenAI server."""

from __future__ import annotations

import json

import asyncio
import re

import pytest

from factory.costs import Usage
from factory.errors import UserError
from factory.default_plugins.llm_translator import LLMTranslator, parse_batch_reply
from factory_openai.loopback import LoopbackOpenAI
from factory.testing.conformance import TranslatorConformance
from factory.translation import TranslationCache, TranslationService

ITEM = re.compile(r"<t(\d+)>(.*?)</t\1>", re.S)


def fake_ko(text: str) -> str:
    """The loopback model's "translation": a Korean tag in front, markers and words kept."""
    return "번역 " + text


def translating_model(request: dict) -> str:
    """Answers batch requests item by item and single requests with the text."""
    user = request["messages"][-1]["content"]
    items = ITEM.findall(user)
    if items and request["messages"][0]["content"].find("numbered tags") >= 0:
        return "\n".join(f"<t{n}>{fake_ko(text)}</t{n}>" for n, text in items)
    return fake_ko(user)


def make_service(server: LoopbackOpenAI, cache: TranslationCache, usage: Usage | None = None, **options) -> TranslationService:
    teacher = {"plugin": "openai", "model": "loopback-model", "base_url": server.base_url, "max_attempts": 2,
               "backoff_initial_s": 0.01, "price": {"input_per_1m": 1.0, "output_per_1m": 2.0}}
    teacher.update(options.pop("teacher", {}))
    translator = LLMTranslator(teacher=teacher, **options)
    return TranslationService(translator, cache=cache, usage=usage or Usage(), backoff_initial_s=0.01)


def translate(svc: TranslationService, texts, source="en", target="ko"):
    async def go():
        try:
            return await svc.translate_detailed(texts, source, target)
        finally:
            await svc.aclose()

    return asyncio.run(go())


@pytest.fixture
def cache(tmp_path):
    with TranslationCache(tmp_path / "llm.sqlite") as c:
        yield c


class TestLLMTranslatorConformance(TranslatorConformance):
    """The suite every translator plugin runs: the llm translator through the openai teacher, on loopback."""

    plugin = LLMTranslator
    options = {"teacher": {"plugin": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}}
    identity_changes = {"teacher": {"plugin": "openai", "model": "other", "base_url": "http://127.0.0.1:9/v1"},
                        "texts_per_request": 4, "max_request_bytes": 4096, "max_tokens": 1024, "temperature": 0.3}
    runtime_changes = {"concurrency": 8}

    def test_the_teachers_core_settings_are_runtime(self):
        teacher = {**self.options["teacher"], "concurrency": 64, "max_attempts": 9, "timeout_s": 5}
        assert self._identity(teacher=teacher) == self._identity()

    @pytest.fixture
    def make_translator(self):
        with LoopbackOpenAI(translating_model, latency_s=0.02) as server:
            teacher = {"plugin": "openai", "model": "loopback-model", "base_url": server.base_url, "max_attempts": 2,
                       "backoff_initial_s": 0.01}
            yield lambda: LLMTranslator(teacher=teacher)


def test_registered_as_a_core_default():
    from factory.plugins import get_registry

    entry = get_registry(refresh=True).get("translator", "llm")
    assert entry.obj is LLMTranslator and entry.distribution == "koalpaca-factory"


def test_batches_texts_in_numbered_tags_and_protects_spans(cache):
    texts = [
        "Explain `git stash` to a beginner.",
        "Visit https://example.com/docs and summarize it.",
        "Greet {name} politely.",
        "Name three rivers.",
    ]
    with LoopbackOpenAI(translating_model) as server:
        svc = make_service(server, cache, texts_per_request=4)
        out = translate(svc, texts)
        bodies = server.bodies
    assert [o.text for o in out] == [fake_ko(t) for t in texts]
    assert len(bodies) == 1
    system, user = bodies[0]["messages"]
    assert "English" in system["content"] and "Korean" in system["content"]
    assert ITEM.findall(user["content"])[2] == ("3", "Greet ⟦1⟧ politely.")
    assert "https://example.com/docs" not in user["content"]  # masked: the model never sees it
    assert bodies[0]["temperature"] == 0.0
    usage = svc.usage
    assert usage.requests == 1 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost_usd == pytest.approx((usage.prompt_tokens * 1.0 + usage.completion_tokens * 2.0) / 1e6)
    assert usage.billed_characters == 0  # an LLM bills tokens, not characters


def test_texts_per_request_splits_batches_and_cache_is_reused(cache):
    texts = [f"Sentence {i} to translate." for i in range(10)]
    with LoopbackOpenAI(translating_model) as server:
        first = translate(make_service(server, cache, texts_per_request=4), texts)
        assert len(server.bodies) == 3
        again = translate(make_service(server, cache, texts_per_request=4), texts)
        assert len(server.bodies) == 3  # the second run asked nothing
    assert [o.text for o in again] == [o.text for o in first] == [fake_ko(t) for t in texts]


def test_unparseable_batch_falls_back_to_one_text_at_a_time(cache):
    def drops_an_item(request: dict) -> str:
        reply = translating_model(request)
        return re.sub(r"<t2>.*?</t2>\n?", "", reply, flags=re.S)  # the model "forgets" item 2

    texts = ["First text.", "Second text.", "Third text."]
    with LoopbackOpenAI(drops_an_item) as server:
        out = translate(make_service(server, cache), texts)
        bodies = server.bodies
    assert [o.text for o in out] == [fake_ko(t) for t in texts]
    assert len(bodies) == 1 + 3
    assert sorted(b["messages"][1]["content"] for b in bodies[1:]) == sorted(texts)
    assert "one text" in bodies[1]["messages"][0]["content"]


def test_lost_marker_is_retried_then_rejected(cache):
    def loses_markers(request: dict) -> str:
        return translating_model(request).replace("⟦1⟧", "")

    with LoopbackOpenAI(loses_markers) as server:
        out = translate(make_service(server, cache), ["Use {placeholder} here.", "Plain sentence."])
        asked = [b["messages"][1]["content"] for b in server.bodies]
    assert (out[0].text, out[0].reason) == (None, "protected_span_lost")
    assert out[1].text == fake_ko("Plain sentence.")
    assert sum("Use ⟦1⟧ here." in a for a in asked) == 2  # sent once more, then rejected


def test_failed_requests_leave_texts_untranslated_and_uncached(cache):
    with LoopbackOpenAI(translating_model) as server:
        server.inject(("500",), ("500",))  # a lone text runs out of its two attempts
        out = translate(make_service(server, cache), ["Alpha text."])
        assert (out[0].text, out[0].reason) == (None, "translation_failed")
        assert len(server.bodies) == 2
        again = translate(make_service(server, cache), ["Alpha text."])
    assert again[0].text == fake_ko("Alpha text.")  # nothing bad was cached: the rerun translates it


def test_empty_answers_are_not_translations(cache):
    def mute_on_gamma(request: dict) -> str:
        user = request["messages"][-1]["content"]
        if "<t1>" in user:
            return "I cannot help with that."  # the batch does not parse
        return "" if "Gamma" in user else fake_ko(user)

    with LoopbackOpenAI(mute_on_gamma) as server:
        out = translate(make_service(server, cache), ["Gamma text.", "Delta text."])
    assert (out[0].text, out[0].reason) == (None, "translation_failed")
    assert out[1].text == fake_ko("Delta text.")


def test_source_text_that_looks_like_item_tags_goes_alone(cache):
    texts = ["Explain what </t1> means in this markup.", "Normal sentence."]
    with LoopbackOpenAI(translating_model) as server:
        out = translate(make_service(server, cache), texts)
        contents = [b["messages"][1]["content"] for b in server.bodies]
    assert [o.text for o in out] == [fake_ko(t) for t in texts]
    assert texts[0] in contents  # sent as a single text, not inside a batch


def test_parse_batch_reply_needs_every_item_exactly_once():
    assert parse_batch_reply("<t1>a</t1>\n<t2>b</t2>", 2) == ["a", "b"]
    assert parse_batch_reply("<t2>b</t2><t1>a</t1>", 2) == ["a", "b"]
    assert parse_batch_reply("<t1>a</t1>", 2) is None
    assert parse_batch_reply("<t1>a</t1><t1>c</t1><t2>b</t2>", 2) is None
    assert parse_batch_reply("<t1>a</t1><t2>b</t2><t3>x</t3>", 2) is None


def test_invalid_teacher_section_is_reported():
    with pytest.raises(UserError, match="no teacher plugin named 'nope'"):
        LLMTranslator(teacher={"plugin": "nope"})
    with pytest.raises(UserError, match="teacher.*model"):
        LLMTranslator(teacher={"plugin": "openai"})
    with pytest.raises(UserError, match="texts_per_request"):
        LLMTranslator(teacher={"plugin": "openai", "model": "m"}, texts_per_request=0)


def test_identity_names_the_model_not_the_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY_ENV", "sk-abcdef123456")
    translator = LLMTranslator(teacher={"plugin": "openai", "model": "gpt-4o-mini", "api_key_env": "SECRET_KEY_ENV"})
    identity = json.dumps(translator.identity)
    assert translator.identity["teacher"]["model"] == "gpt-4o-mini"
    assert "sk-abcdef" not in identity and "SECRET_KEY_ENV" not in identity  # the key's variable is runtime too
