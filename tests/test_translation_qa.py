"""The translation_qa filter: untranslated fields, outputs in the wrong language, and a back-translation score through
the llm translator on the loopback OpenAI teacher."""

from __future__ import annotations

import re

import pytest

from factory.costs import Usage
from factory.default_plugins.translation_qa import TranslationQA
from factory.filtering import ConfiguredFilter, FilterChain, FilterContext
from factory.plugins import get_plugin
from factory.records import Record
from factory.testing import fake_teacher
from factory.testing.conformance import FilterConformance
from factory.testing.plugins import registered
from factory_openai.loopback import LoopbackOpenAI

KEY = "sk-loopback-qa"
SOURCES = [Record.from_alpaca("Give three tips for staying healthy.", "", "Sleep, eat well, walk.", id="s1"),
           Record.from_alpaca("Name the largest ocean on Earth.", "", "The Pacific Ocean.", id="s2")]
#: Korean -> English as the loopback model "translates back": a faithful one and an unfaithful one
BACK = {"건강을 지키는 세 가지 방법을 알려 주세요.": "Give three tips to stay healthy.",
        "지구에서 가장 큰 사막의 이름을 말하세요.": "Say the name of the biggest desert on Earth."}


def translated(source: Record, instruction: str, output: str, **extra) -> Record:
    meta = {"translation": {"translator": "deepl", "source_id": source.id, "source_language": "en",
                            "target_language": "ko", "fields": ["instruction", "output"], "output": "translated",
                            **extra}}
    return Record.from_alpaca(instruction, "", output, id=source.id, meta=meta)


def back_translating_model(request: dict) -> str:
    """The llm translator's request (numbered <tN> items or one text): each Korean item's English, as BACK has it."""
    user = request["messages"][-1]["content"]
    items = re.findall(r"<t(\d+)>(.*?)</t\1>", user, re.S)
    if items:
        return "\n".join(f"<t{n}>{BACK.get(text, text)}</t{n}>" for n, text in items)
    return BACK.get(user, user)


def chain(language, inputs=(), client_for=None, **options) -> FilterChain:
    ctx = FilterContext(language=language, inputs=list(inputs), client_for=client_for)
    return FilterChain([ConfiguredFilter("translation_qa", TranslationQA(**options))], ctx)


@pytest.fixture
def ko():
    pytest.importorskip("factory_ko")
    return get_plugin("language", "ko")()


def test_unchanged_fields_and_outputs_in_the_wrong_language_are_flagged(ko):
    records = [translated(SOURCES[0], "건강을 지키는 세 가지 방법을 알려 주세요.", "잘 자고, 잘 먹고, 걸으세요."),
               translated(SOURCES[1], "Name the largest ocean on Earth.", "태평양입니다.", unchanged=["instruction"]),
               translated(SOURCES[1], "지구에서 가장 큰 바다의 이름을 말하세요.", "The largest ocean is the Pacific Ocean."),
               Record.from_alpaca("An untranslated generated record.", "", "Not judged at all.", id="gen")]
    kept, rejected = chain(ko).apply_sync(records)
    assert [r.id for r in kept] == ["s1", "gen"]
    assert [(r.id, reason) for r, reason, _ in rejected] == [("s2", "untranslated"), ("s2", "wrong_output_language")]
    assert rejected[1][2].startswith("en (")
    assert records[0].meta["translation"]["output_language"]["language"] == "ko"
    assert "translation" not in records[3].meta
    only_input = chain(ko, fields=["input"]).apply_sync([records[1].copy()])
    assert only_input[1] == []  # the instruction is not among the fields checked


def test_a_back_translation_score_through_the_llm_translator_on_the_loopback_teacher(ko, tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("QA_KEY", KEY)
    records = [translated(SOURCES[0], "건강을 지키는 세 가지 방법을 알려 주세요.", "잘 자고, 잘 먹고, 걸으세요."),
               translated(SOURCES[1], "지구에서 가장 큰 사막의 이름을 말하세요.", "사하라 사막입니다.")]
    with LoopbackOpenAI(back_translating_model, api_key=KEY) as server:
        judge = {"plugin": "openai", "model": "gpt-4o-mini", "api": "chat", "base_url": server.base_url,
                 "api_key_env": "QA_KEY"}
        usage = Usage()
        qa = chain(ko, SOURCES, lambda spec: spec.client(usage=usage, budget=None), back_translation=judge,
                   min_back_translation=0.6)
        kept, rejected = qa.apply_sync(records)
        assert server.requests and "English" in server.requests[0]["body"]["messages"][0]["content"]
        assert usage.requests == len(server.requests) and usage.prompt_tokens > 0  # paid in the run's usage
        sent = len(server.requests)
        chain(ko, SOURCES, lambda spec: spec.client(usage=Usage(), budget=None), back_translation=judge,
              min_back_translation=0.6).apply_sync([r.copy() for r in records])
        assert len(server.requests) == sent  # the second time every back-translation is in the translation cache
    good, bad = (r.meta["translation"]["back_translation"]["instruction"] for r in records)
    assert good > 0.6 > bad
    assert [r.id for r in kept] == ["s1"] and [reason for _, reason, _ in rejected] == ["back_translation_low"]


class TestTranslationQAConformance(FilterConformance):
    plugin = TranslationQA
    identity_changes = {"fields": ["input"], "check_output_language": False, "min_confidence": 0.9, "min_letters": 3,
                        "back_translation": {"plugin": "fake"}, "back_translate": ["output"],
                        "min_back_translation": 0.5}
    kept = [{"instruction": "Say hello to the team.", "output": "Good morning to all of you, my dear friends.",
             "meta": {"translation": {"source_id": "x", "source_language": "ko", "target_language": "en"}}}]
    rejected = [{"instruction": "Say hello to the team.", "output": "Good morning to all of you, my dear friends.",
                 "meta": {"translation": {"source_id": "x", "unchanged": ["instruction"]}}}]

    @pytest.fixture(autouse=True)
    def _fake_teacher(self):
        with registered(fake_teacher):
            yield
