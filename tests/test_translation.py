"""The translation service core: dedupe, persistent cache, planning, retries, quota stop, budget, spans.

The engine here is an in-test translator implementing the plugin contract
(the real DeepL client is exercised in plugins/deepl/tests); output
regeneration runs the real openai client against the loopback server.
"""

from __future__ import annotations

from factory.contracts import Options
from factory.translators import Translator, TranslatorDescription

import asyncio
from pathlib import Path

import pytest

from factory.costs import Budget, BudgetExceeded, Usage
from factory.errors import StopRun
from factory.protect import mask
from factory.records import Record
from factory.translation import (
    TranslationCache,
    TranslationQuotaStop,
    TranslationService,
    TranslationUnavailable,
    default_cache_dir,
    translate_records,
)
from factory.translators import RetryableTranslationError, TranslationQuotaExceeded, TranslationResult


def fake(text: str) -> str:
    """The test engine's "translation": upper case (markers ⟦n⟧ are unaffected), so changes are visible."""
    return text.upper()


class ScriptedOptions(Options):
    engine: str = "scripted|v1"


class ScriptedTranslator(Translator):
    """Implements the translator contract; ``script`` holds exceptions raised by the next calls."""

    options_model = ScriptedOptions
    protect_markup = None

    @classmethod
    def describe_for(cls, options):
        return TranslatorDescription(engine=options.engine)

    def __init__(self, *, max_texts: int = 50, max_bytes: int = 128 * 1024, concurrency: int = 1, quota: int | None = None,
                 engine: str = "scripted|v1"):
        super().__init__(engine=engine)
        self.max_texts_per_request = max_texts
        self.max_request_bytes = max_bytes
        self.concurrency = concurrency
        self.quota = quota
        self.billed = 0
        self.calls: list[list[str]] = []
        self.script: list[BaseException] = []
        self.transform = fake
        self.in_flight = 0
        self.max_in_flight = 0

    async def translate(self, texts, source, target):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            if self.script:
                raise self.script.pop(0)
            billed = sum(len(t) for t in texts)
            if self.quota is not None and self.billed + billed > self.quota:
                raise TranslationQuotaExceeded("456 quota")
            self.billed += billed
            self.calls.append(list(texts))
            return TranslationResult([self.transform(t) for t in texts], billed)
        finally:
            self.in_flight -= 1

    async def aclose(self):
        pass

    def sent(self) -> list[str]:
        return [t for call in self.calls for t in call]


def service(translator, cache, **kwargs) -> TranslationService:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    kwargs.setdefault("usage", Usage())
    svc = TranslationService(translator, cache=cache, backoff_initial_s=0.01, sleep=sleep, **kwargs)
    svc.sleeps = sleeps  # type: ignore[attr-defined]
    return svc


@pytest.fixture
def cache(tmp_path):
    with TranslationCache(tmp_path / "translations.sqlite") as c:
        yield c


def run(coro):
    return asyncio.run(coro)


def test_default_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    with TranslationCache() as c:
        assert c.path == tmp_path / "elsewhere" / "translations.sqlite"
        assert c.path.exists()


def test_unreadable_cache_is_a_user_error(tmp_path):
    bad = tmp_path / "translations.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    from factory.errors import UserError

    with pytest.raises(UserError, match="translation cache"):
        TranslationCache(bad).get("x")


def test_identical_strings_are_sent_once_and_billed_once(cache):
    engine = ScriptedTranslator()
    svc = service(engine, cache, price_per_million_chars=20.0)
    texts = ["Hello there", "Good night", "Hello there", "", "  ", "Good night", "Hello there"]
    out = run(svc.translate_texts(texts, "en", "ko"))
    assert out == ["HELLO THERE", "GOOD NIGHT", "HELLO THERE", "", "  ", "GOOD NIGHT", "HELLO THERE"]
    assert sorted(engine.sent()) == ["Good night", "Hello there"]
    unique_chars = len("Hello there") + len("Good night")
    assert svc.usage.billed_characters == unique_chars
    assert svc.usage.cost_usd == pytest.approx(unique_chars * 20.0 / 1e6)
    assert svc.usage.requests == 1


def test_cache_is_shared_across_runs_and_second_run_bills_nothing(tmp_path):
    texts = [f"Sentence number {i} about {{topic}}." for i in range(30)]
    path = tmp_path / "shared.sqlite"
    with TranslationCache(path) as first_cache:
        first_engine = ScriptedTranslator()
        first = service(first_engine, first_cache)
        first_out = run(first.translate_texts(texts, "en", "ko"))
    assert first.usage.billed_characters == first_engine.billed == sum(len(mask(t).text) for t in texts)

    engine = ScriptedTranslator()
    with TranslationCache(path) as second_cache:  # a new process would open the file the same way
        second = service(engine, second_cache)
        second_out = run(second.translate_texts(texts + texts[:3], "en", "ko"))
    assert second_out == first_out + first_out[:3]
    assert engine.calls == []
    assert second.usage.billed_characters == 0
    assert second.usage.cached_characters == sum(len(t) for t in texts)
    assert all("{topic}" in t for t in second_out)


def test_cache_key_separates_engines_and_languages(cache):
    run(service(ScriptedTranslator(), cache).translate_texts(["Hello"], "en", "ko"))
    engine = ScriptedTranslator()
    run(service(engine, cache).translate_texts(["Hello"], "en", "ja"))
    assert engine.sent() == ["Hello"]
    other = ScriptedTranslator()
    other.options = ScriptedOptions(engine="other|v1")
    run(service(other, cache).translate_texts(["Hello"], "en", "ko"))
    assert other.sent() == ["Hello"]


def test_requests_respect_text_and_byte_limits_and_concurrency(cache):
    engine = ScriptedTranslator(max_texts=50, max_bytes=4096, concurrency=3)
    texts = [f"text {i} " + "x" * (200 if i % 10 == 0 else 5) for i in range(130)]
    out = run(service(engine, cache).translate_texts(texts, "en", "ko"))
    assert out == [fake(t) for t in texts]
    assert sorted(engine.sent()) == sorted(texts)
    for call in engine.calls:
        assert len(call) <= 50
        assert sum(len(t.encode()) + 16 for t in call) + 1024 <= 4096
    assert len(engine.calls) >= 3
    assert 1 < engine.max_in_flight <= 3


def test_text_larger_than_a_request_is_rejected_without_sending(cache):
    engine = ScriptedTranslator(max_bytes=2048)
    svc = service(engine, cache)
    out = run(svc.translate_detailed(["short", "y" * 5000], "en", "ko"))
    assert out[0].text == "SHORT"
    assert (out[1].text, out[1].reason) == (None, "text_too_long")
    assert engine.sent() == ["short"]


def test_retryable_errors_are_retried_honouring_retry_after(cache):
    engine = ScriptedTranslator()
    engine.script = [RetryableTranslationError("429", retry_after=2.5), RetryableTranslationError("503")]
    svc = service(engine, cache)
    assert run(svc.translate_texts(["one", "two"], "en", "ko")) == ["ONE", "TWO"]
    assert svc.usage.retries == 2
    assert svc.sleeps[0] >= 2.5  # type: ignore[attr-defined]
    assert svc.sleeps[1] <= 0.02  # type: ignore[attr-defined]  # exponential backoff from backoff_initial_s


def test_engine_that_keeps_failing_stops_the_run_cleanly(cache):
    engine = ScriptedTranslator()
    engine.script = [RetryableTranslationError("500")] * 3
    svc = service(engine, cache, max_attempts=3)
    with pytest.raises(TranslationUnavailable, match="rerun the same command") as info:
        run(svc.translate_texts(["one"], "en", "ko"))
    assert isinstance(info.value, StopRun)
    assert svc.usage.failed_requests == 1 and svc.usage.retries == 2


def test_quota_stop_keeps_paid_work_and_a_rerun_sends_only_the_rest(tmp_path):
    texts = [f"Record {i:03d} needs translating" for i in range(120)]
    size = len(texts[0])
    path = tmp_path / "q.sqlite"
    engine = ScriptedTranslator(max_texts=50, quota=size * 60)  # room for the first request (50 texts) only
    with TranslationCache(path) as c:
        svc = service(engine, c)
        with pytest.raises(TranslationQuotaStop) as info:
            run(svc.translate_texts(texts, "en", "ko"))
        assert len(c) == 50
    message = str(info.value)
    assert f"{size * 50} characters billed" in message
    assert "rerun the same command" in message
    assert isinstance(info.value, StopRun)

    engine.quota = None
    with TranslationCache(path) as c:
        resumed = service(engine, c)
        out = run(resumed.translate_texts(texts, "en", "ko"))
    assert out == [fake(t) for t in texts]
    assert sorted(engine.sent()) == sorted(texts)  # every text paid for exactly once over both runs
    assert resumed.usage.billed_characters == size * 70
    assert resumed.usage.cached_characters == size * 50


def test_budget_is_checked_before_sending(cache):
    engine = ScriptedTranslator(max_texts=10)
    texts = [f"{i:02d}" + "z" * 98 for i in range(30)]  # 100 characters each: 1000 per request
    budget = Budget(limit_usd=2500 * 10.0 / 1e6)  # room for two requests at $10 per 1M characters
    svc = service(engine, cache, budget=budget, price_per_million_chars=10.0)
    with pytest.raises(BudgetExceeded):
        run(svc.translate_texts(texts, "en", "ko"))
    assert len(engine.calls) == 2
    assert budget.spent_usd == pytest.approx(2000 * 10.0 / 1e6)
    assert budget.spent_usd <= budget.limit_usd
    assert len(cache) == 20


def test_lost_span_is_sent_once_more_then_accepted(cache):
    engine = ScriptedTranslator()
    broken = {"count": 0}

    def drop_first_time(text: str) -> str:
        if "⟦1⟧" in text and broken["count"] == 0:
            broken["count"] += 1
            return fake(text.replace("⟦1⟧", ""))
        return fake(text)

    engine.transform = drop_first_time
    svc = service(engine, cache)
    out = run(svc.translate_texts(["Call {user} now"], "en", "ko"))
    assert out == ["CALL {user} NOW"]
    assert engine.sent() == ["Call ⟦1⟧ now", "Call ⟦1⟧ now"]


def test_span_lost_twice_is_rejected_and_never_paid_again(tmp_path):
    engine = ScriptedTranslator()
    engine.transform = lambda text: fake(text.replace("⟦1⟧", "{USER}"))
    with TranslationCache(tmp_path / "s.sqlite") as c:
        svc = service(engine, c)
        out = run(svc.translate_detailed(["Call {user} now", "Plain text"], "en", "ko"))
        assert (out[0].text, out[0].reason) == (None, "protected_span_lost")
        assert out[1].text == "PLAIN TEXT"
        assert svc.rejections["protected_span_lost"] == 1
        assert engine.sent().count("Call ⟦1⟧ now") == 2
        again = service(engine, c)
        assert run(again.translate_texts(["Call {user} now"], "en", "ko")) == [None]
        assert engine.sent().count("Call ⟦1⟧ now") == 2
        assert again.estimate(["Call {user} now"], "en", "ko").billable_characters == 0


def test_untranslated_texts_are_rejected_but_not_cached(cache):
    engine = ScriptedTranslator()
    engine.transform = lambda text: None if "skip" in text else fake(text)
    svc = service(engine, cache)
    out = run(svc.translate_detailed(["please skip me", "keep me"], "en", "ko"))
    assert (out[0].text, out[0].reason) == (None, "translation_failed")
    assert out[1].text == "KEEP ME"
    engine.transform = fake
    assert run(service(engine, cache).translate_texts(["please skip me"], "en", "ko")) == ["PLEASE SKIP ME"]


def test_estimate_counts_unique_uncached_characters(cache):
    records = [Record.from_alpaca(f"Task {i} for {{name}}", input="Same input" if i % 2 else "") for i in range(10)]
    engine = ScriptedTranslator()
    svc = service(engine, cache, price_per_million_chars=25.0)
    before = svc.estimate_characters(records, ["instruction", "input"], "en", "ko")
    unique = {r.instruction for r in records} | {"Same input"}
    assert before.unique_texts == len(unique)
    assert before.texts == 15
    assert before.billable_characters == sum(len(mask(t).text) for t in unique)  # what goes on the wire
    assert before.cost_usd == pytest.approx(before.billable_characters * 25.0 / 1e6)
    run(svc.translate_texts([r.instruction for r in records[:4]], "en", "ko"))
    after = svc.estimate_characters(records, ["instruction", "input"], "en", "ko")
    assert after.cached_texts == 4
    assert after.billable_characters == before.billable_characters - sum(len(mask(r.instruction).text) for r in records[:4])
    assert svc.usage.billed_characters == engine.billed > 0


def test_translate_records_translates_chosen_fields_and_reports_rejections(cache):
    engine = ScriptedTranslator()
    engine.transform = lambda text: fake(text.replace("⟦1⟧", "")) if "broken" in text else fake(text)
    records = [
        Record.from_alpaca("Summarize the text", input="Cats are nice", output="They are.", id="a1", meta={"k": 1}),
        Record.from_alpaca("Name a color", input="", output="Blue", id="a2"),
        Record.from_alpaca("Fix the broken {thing}", input="", output="ok", id="a3"),
    ]
    results = run(translate_records(records, ["instruction", "input"], service(engine, cache), "en", "ko"))
    first, second, third = results
    assert first[1] is None and first[0].instruction == "SUMMARIZE THE TEXT" and first[0].input == "CATS ARE NICE"
    assert first[0].output == "They are."  # not a chosen field
    assert first[0].id == "a1" and first[0].meta["k"] == 1
    assert first[0].meta["translation"] == {
        "translator": "scripted|v1",
        "source_id": "a1",
        "source_language": "en",
        "target_language": "ko",
        "fields": ["instruction", "input"],
        "output": "kept",
    }
    assert second[0].input == ""
    assert third == (None, "protected_span_lost")
    assert "" not in engine.sent()


def test_regenerate_output_asks_the_teacher_in_the_target_language(cache):
    from factory.teacher_factory import build_teacher_client
    from factory_openai.loopback import LoopbackOpenAI

    def respond(request):
        user = request["messages"][-1]["content"]
        if "FAIL" in user:
            return ""
        return "답변: " + user.splitlines()[0]

    records = [
        Record.from_alpaca("Give a tip", input="", output="Sleep well.", id="r1"),
        Record.from_alpaca("Translate this", input="Good morning", output="Bonjour", id="r2"),
        Record.from_alpaca("FAIL on purpose", input="<noinput>", output="x", id="r3"),
    ]
    usage = Usage()
    with LoopbackOpenAI(respond) as server:
        client = build_teacher_client(
            {"plugin": "openai", "model": "loopback-model", "base_url": server.base_url, "max_attempts": 1},
            usage=usage, budget=None,
        )
        results = run(translate_records(
            records, ["instruction", "input", "output"], service(ScriptedTranslator(), cache), "en", "ko",
            regenerate_output=True, teacher_client=client, language="Korean",
        ))
        bodies = server.bodies
    (r1, e1), (r2, e2), (r3, e3) = results
    assert e1 is None and r1.instruction == "GIVE A TIP" and r1.output == "답변: GIVE A TIP"
    assert r2.output == "답변: TRANSLATE THIS" and r2.meta["translation"]["output"] == "regenerated"
    assert r2.meta["translation"]["fields"] == ["instruction", "input"]
    assert (r3, e3) == (None, "teacher_failed")  # an empty reply is a failed request (retried), not an answer
    assert len(bodies) == 3  # requests run concurrently: find them by content
    users = sorted(b["messages"][1]["content"] for b in bodies)
    assert users == ["FAIL ON PURPOSE", "GIVE A TIP", "TRANSLATE THIS\n\nGOOD MORNING"]  # <noinput> is no input
    for body in bodies:
        system = body["messages"][0]
        assert system["role"] == "system" and "Korean" in system["content"]
    assert usage.requests == 3 and usage.completion_tokens > 0


def test_regenerate_without_teacher_is_an_error(cache):
    with pytest.raises(ValueError, match="teacher_client"):
        run(translate_records([Record.from_alpaca("x")], ["instruction"], service(ScriptedTranslator(), cache),
                              "en", "ko", regenerate_output=True))


def test_masking_matches_what_the_engine_receives(cache):
    engine = ScriptedTranslator()
    text = "Open https://example.com and run `ls -la` for {user}"
    run(service(engine, cache).translate_texts([text], "en", "ko"))
    assert engine.sent() == [mask(text).text]
    assert "https://example.com" not in engine.sent()[0]
    assert Path(cache.path).exists()
