"""The ``deepl`` translator: the real ``deepl`` client against the loopback DeepL server.

Shows batching, retries on 429/5xx/slow answers, the quota stop with nothing
lost and a clean resume, cache hits across runs with zero billed characters,
identical strings sent once, protected spans intact and glossaries applied
and created once.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from factory.costs import Usage
from factory.errors import StopRun, UserError
from factory.protect import find_spans
from factory.records import Record
from factory_deepl.loopback import LoopbackDeepL, untranslate
from factory.translation import TranslationCache, TranslationQuotaStop, TranslationService, translate_records
from factory_deepl import DeepLTranslator

KEY = "loopback-key"
HANGUL = re.compile(r"[가-힣]")


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TEST_DEEPL_KEY", KEY)


@pytest.fixture
def server():
    with LoopbackDeepL(auth_key=KEY) as s:
        yield s


def make_service(server_url: str, cache: TranslationCache, **options) -> TranslationService:
    options.setdefault("auth_key_env", "TEST_DEEPL_KEY")
    translator = DeepLTranslator(server_url=server_url, **options)
    return TranslationService(
        translator, cache=cache, usage=Usage(), price_per_million_chars=25.0, backoff_initial_s=0.01, backoff_max_s=0.05
    )


def translate(svc: TranslationService, texts, source="en", target="ko"):
    async def go():
        try:
            return await svc.translate_texts(texts, source, target)
        finally:
            await svc.aclose()

    return asyncio.run(go())


def test_plugin_is_registered_through_the_entry_point():
    from factory.plugins import get_registry

    entry = get_registry(refresh=True).get("translator", "deepl")
    assert entry.obj is DeepLTranslator
    assert entry.distribution == "koalpaca-factory-deepl"


def test_many_texts_go_in_few_requests_within_deepl_limits(server):
    texts = [f"Write sentence number {i} about the weather." for i in range(230)]
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache, concurrency=3)
        out = translate(svc, texts)
    requests = server.translate_requests()
    assert len(requests) == 5  # ceil(230 / 50)
    assert all(len(r.texts) <= 50 for r in requests)
    assert all(r.params["tag_handling"] == "xml" and r.params["ignore_tags"] == ["keep"] for r in requests)
    assert all(r.params["source_lang"] == "EN" and r.params["target_lang"] == "KO" for r in requests)
    assert sorted(server.translated_texts()) == sorted(texts)
    assert [untranslate(t) for t in out] == texts  # every text came back, in order, translated
    assert all(HANGUL.search(t) for t in out)
    assert svc.usage.billed_characters == server.character_count == sum(len(t) for t in texts)
    assert svc.usage.cost_usd == pytest.approx(server.character_count * 25.0 / 1e6)


def test_byte_limit_splits_requests(server):
    texts = [f"{i} " + "long text " * 150 for i in range(12)]  # about 1.5 KB each
    with TranslationCache() as cache:
        out = translate(make_service(server.server_url, cache, max_request_bytes=4096), texts)
    assert [untranslate(t) for t in out] == texts
    for request in server.translate_requests():
        assert sum(len(t.encode()) for t in request.texts) <= 4096
    assert len(server.translate_requests()) >= 6


def test_identical_strings_are_sent_once(server):
    texts = ["Give three tips.", "Name a fruit.", "Give three tips.", "Give three tips.", "Name a fruit."]
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache)
        out = translate(svc, texts)
    assert sorted(server.translated_texts()) == ["Give three tips.", "Name a fruit."]
    assert out[0] == out[2] == out[3] and out[1] == out[4]
    assert svc.usage.billed_characters == len("Give three tips.") + len("Name a fruit.")


def test_retries_on_429_and_5xx_honour_retry_after(server):
    server.inject(("429", 0.3), ("500",), ("503",))
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache)
        started = asyncio.run(_timed(svc, ["Hello world", "Good morning"]))
    out, elapsed = started
    assert [untranslate(t) for t in out] == ["Hello world", "Good morning"]
    assert [r.status for r in server.translate_requests(status=None)] == [429, 500, 503, 200]
    assert svc.usage.retries == 3 and svc.usage.requests == 1
    assert elapsed >= 0.3  # waited at least the server's Retry-After
    assert server.character_count == len("Hello world") + len("Good morning")


async def _timed(svc, texts):
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        out = await svc.translate_texts(texts, "en", "ko")
    finally:
        await svc.aclose()
    return out, loop.time() - start


def test_slow_answer_times_out_and_is_retried(server):
    server.inject(("slow", 30.0))  # held far past the timeout (released when the server stops)
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache, timeout_s=1.0)
        out = translate(svc, ["Hello slow world"])
    assert untranslate(out[0]) == "Hello slow world"
    requests = server.translate_requests(status=None)
    assert requests[0].fault == ("slow", 30.0) and requests[0].status == 0  # abandoned by the client, still held
    assert requests[-1].status == 200
    assert svc.usage.retries == len(requests) - 1 >= 1


def test_quota_stop_saves_everything_and_resume_sends_only_the_rest(server, tmp_path):
    texts = [f"Instruction {i:03d}: explain topic {i:03d} briefly." for i in range(150)]
    size = len(texts[0])
    server.character_limit = size * 110  # the first two requests of 50 fit, the third does not
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache, concurrency=1)
        with pytest.raises(TranslationQuotaStop) as info:
            translate(svc, texts)
        assert len(cache) == 100
    message = str(info.value)
    assert isinstance(info.value, StopRun)
    assert f"{size * 100} characters billed" in message
    assert "rerun the same command" in message
    assert KEY not in message
    assert [r.status for r in server.translate_requests(status=None)] == [200, 200, 456]

    server.character_limit = None  # quota raised (or a new billing period)
    server.reset_log()
    with TranslationCache() as cache:
        resumed = make_service(server.server_url, cache, concurrency=1)
        out = translate(resumed, texts)
    assert [untranslate(t) for t in out] == texts
    assert sorted(server.translated_texts()) == sorted(texts[100:])  # only what was missing
    assert resumed.usage.billed_characters == size * 50
    assert server.character_count == size * 150  # every text billed exactly once over both runs


def test_second_run_hits_the_cache_and_bills_nothing(server):
    texts = [f"Describe animal number {i}." for i in range(40)]
    with TranslationCache() as cache:
        first = make_service(server.server_url, cache)
        first_out = translate(first, texts)
    billed_first = server.character_count
    with TranslationCache() as cache:
        second = make_service(server.server_url, cache)
        second_out = translate(second, texts)
    assert second_out == first_out
    assert second.usage.billed_characters == 0
    assert second.usage.cached_characters == sum(len(t) for t in texts)
    assert server.character_count == billed_first
    assert len(server.translate_requests()) == 1


PROTECTED = [
    "Run `pip install requests` and then `python app.py`.",
    "Explain this code:\n```python\ndef add(a, b):\n    return a + b\n```\nKeep it short.",
    "Summarize https://en.wikipedia.org/wiki/Seoul for a child.",
    "Write an email to support@example.com about order {order_id}.",
    "Fill the template: Dear %s, your balance is %d won. Use <b>bold</b> & care.",
    "Convert 5 km to miles and 3.5 kg to pounds, costing $12.50.",
    "<noinput>",
]


def test_protected_spans_come_back_byte_identical(server):
    with TranslationCache() as cache:
        out = translate(make_service(server.server_url, cache), PROTECTED)
    for source, translated in zip(PROTECTED, out):
        spans = [s.text for s in find_spans(source)]
        assert spans, source
        for span in spans:
            assert translated.count(span) == source.count(span), (span, translated)
        assert untranslate(translated) == source
    assert HANGUL.search(out[0])
    assert out[6] == "<noinput>"
    assert "<b>" not in out[4] and "&" in out[4]  # free-text markup is text, escaped on the way, restored after
    sent = " ".join(server.translated_texts())
    assert 'Summarize <keep i="1"/> for a child.' in sent and "wikipedia" not in sent  # spans are never sent
    assert "<noinput>" not in sent and "&lt;noinput&gt;" not in sent  # a span-only text is not sent at all


def test_unprotected_text_would_have_been_mangled(server):
    """The loopback engine really changes free text, so the span test above can fail."""
    import deepl

    client = deepl.DeepLClient(KEY, server_url=server.server_url)
    raw = client.translate_text("Summarize https://example.com/page", target_lang="KO").text
    assert "https://example.com/page" not in raw


def write_glossary(path: Path) -> Path:
    path.write_text("source\ttarget\nprompt\t프롬프트\nmodel\t모델\n", encoding="utf-8")
    return path


def test_glossary_is_applied_and_created_once(server, tmp_path):
    glossary = write_glossary(tmp_path / "terms.tsv")
    texts = ["Write a prompt for the model.", "The model reads the prompt at https://x.example/prompt."]
    texts += [f"Prompt number {i} for a model." for i in range(120)]  # several requests at once
    with TranslationCache() as cache:
        out = translate(make_service(server.server_url, cache, glossary=str(glossary), concurrency=3), texts)
    assert "프롬프트" in out[0] and "모델" in out[0]
    assert out[1].endswith("https://x.example/prompt.")  # a term inside a protected URL is left alone
    assert len(server.glossaries) == 1
    (created,) = server.glossaries.values()
    assert created.entries == {"prompt": "프롬프트", "model": "모델"}
    assert (created.source_lang, created.target_lang) == ("en", "ko")
    assert all(r.params.get("glossary_id") == created.glossary_id for r in server.translate_requests())

    with TranslationCache() as cache:  # a later run with new texts finds the glossary instead of creating one
        translate(make_service(server.server_url, cache, glossary=str(glossary)), ["One more prompt."])
    creations = [r for r in server.requests if r.path == "/v2/glossaries" and r.method == "POST"]
    assert len(creations) == 1
    assert len(server.glossaries) == 1

    edited = tmp_path / "terms.csv"
    edited.write_text("prompt,지시문\n", encoding="utf-8")
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache, glossary=str(edited))
        (again,) = translate(svc, ["Write a prompt for the model."])
    assert "지시문" in again  # different entries: a new glossary, and a new cache key
    assert len(server.glossaries) == 2


def test_bad_glossary_file_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt,프롬프트\nprompt,다른\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad\.csv:2: source term 'prompt' appears twice"):
        DeepLTranslator(auth_key_env="TEST_DEEPL_KEY", glossary=str(bad))
    with pytest.raises(UserError, match="glossary file not found"):
        DeepLTranslator(glossary=str(tmp_path / "missing.tsv"))


def test_missing_key_names_the_variable(server, monkeypatch):
    monkeypatch.delenv("MY_DEEPL_KEY", raising=False)
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache, auth_key_env="MY_DEEPL_KEY")
        with pytest.raises(UserError, match="MY_DEEPL_KEY is not set"):
            translate(svc, ["Hello"])
    assert server.requests == []


def test_wrong_key_is_a_clean_error_without_the_key(server, monkeypatch):
    monkeypatch.setenv("WRONG_KEY", "wrong-secret-123")
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache, auth_key_env="WRONG_KEY")
        with pytest.raises(UserError) as info:
            translate(svc, ["Hello"])
    assert "WRONG_KEY" in str(info.value) and "wrong-secret-123" not in str(info.value)


def test_options_are_validated():
    with pytest.raises(UserError, match="max_texts_per_request"):
        DeepLTranslator(max_texts_per_request=51)
    with pytest.raises(UserError, match="formality"):
        DeepLTranslator(formality="very")
    with pytest.raises(UserError, match="unknown|extra"):
        DeepLTranslator(auth_key="inline-secret")
    identity = DeepLTranslator(formality="prefer_more").identity
    assert identity["formality"] == "prefer_more" and identity["server_url"] == "https://api.deepl.com"


def test_formality_is_sent(server):
    with TranslationCache() as cache:
        translate(make_service(server.server_url, cache, formality="prefer_less"), ["Hi there"], target="de")
    (request,) = server.translate_requests()
    assert request.params["formality"] == "prefer_less" and request.params["target_lang"] == "DE"


def test_translate_records_with_deepl(server):
    records = [
        Record.from_alpaca("Explain `git rebase` simply.", input="", output="It replays commits.", id="s1"),
        Record.from_alpaca("Fix the email", input="Contact me at a@b.io", output="ok", id="s2"),
    ]
    with TranslationCache() as cache:
        svc = make_service(server.server_url, cache)

        async def go():
            try:
                return await translate_records(records, ["instruction", "input"], svc, "en", "ko")
            finally:
                await svc.aclose()

        results = asyncio.run(go())
    (first, r1), (second, r2) = results
    assert r1 is None and r2 is None
    assert "`git rebase`" in first.instruction and HANGUL.search(first.instruction)
    assert "a@b.io" in second.input
    assert first.meta["translation"]["translator"].startswith("deepl@127.0.0.1:")
    prose = ["Explain ", " simply.", "Fix the email", "Contact me at "]  # around `git rebase` and a@b.io
    assert svc.usage.billed_characters == server.character_count == sum(len(t) for t in prose)


def test_loopback_server_enforces_deepl_limits_and_form_bodies(server):
    """The server refuses what DeepL refuses, so a batching bug cannot pass unnoticed."""
    import deepl
    import requests

    client = deepl.DeepLClient(KEY, server_url=server.server_url)
    with pytest.raises(deepl.DeepLException) as info:
        client.translate_text([f"t{i}" for i in range(51)], target_lang="KO")
    assert info.value.http_status_code == 413
    form = requests.post(
        f"{server.server_url}/v2/translate",
        data={"text": ["Hello", "World"], "target_lang": "KO"},
        headers={"Authorization": f"DeepL-Auth-Key {KEY}"},
        timeout=10,
    )
    assert form.status_code == 200
    assert [untranslate(t["text"]) for t in form.json()["translations"]] == ["Hello", "World"]
    assert requests.get(f"{server.server_url}/v2/usage", timeout=10).status_code == 403  # no key
    usage = client.get_usage()
    assert usage.character.count == server.character_count == len("HelloWorld")
