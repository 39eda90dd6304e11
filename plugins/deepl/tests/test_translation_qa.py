"""Translation QA against the loopback DeepL server: unfenced code and SQL are protected, span-only texts
are never sent, a request bills exactly the prose around the spans, ``<noinput>`` is no input, and an
input the engine returned unchanged is flagged."""

from __future__ import annotations

import asyncio

import pytest

from factory.costs import Usage
from factory.records import Record
from factory.translation import TranslationCache, TranslationService, translate_records
from factory_deepl import DeepLTranslator
from factory_deepl.loopback import LoopbackDeepL, untranslate

KEY = "loopback-key"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TEST_DEEPL_KEY", KEY)


@pytest.fixture
def server():
    with LoopbackDeepL(auth_key=KEY) as s:
        yield s


def service(server) -> TranslationService:
    translator = DeepLTranslator(server_url=server.server_url, auth_key_env="TEST_DEEPL_KEY")
    return TranslationService(translator, cache=TranslationCache(), usage=Usage(), price_per_million_chars=25.0,
                              backoff_initial_s=0.01, close_cache=True)


def translate(server, texts):
    svc = service(server)

    async def go():
        try:
            return await svc.translate_texts(texts, "en", "ko")
        finally:
            await svc.aclose()

    return asyncio.run(go()), svc


#: (text, the code it holds, the prose around it)
UNFENCED = [
    ("Explain what this query returns:\nSELECT name, age FROM users WHERE age > 30;",
     "SELECT name, age FROM users WHERE age > 30;", "Explain what this query returns:\n"),
    ("What does print(len('hello')) show?", "print(len('hello'))", "What does  show?"),
    ("Find the bug:\ndef add(a, b):\n    return a - b\nThen fix it.",
     "def add(a, b):\n    return a - b", "Find the bug:\n\nThen fix it."),
    ("Rewrite SELECT * FROM orders in plain words.", "SELECT * FROM orders", "Rewrite  in plain words."),
]
SPAN_ONLY = ["```python\nprint('hi')\n```", "https://example.com/docs", "<noinput>", "`x = 1`\n`y = 2`", "$12.50"]


def test_unfenced_code_and_span_only_texts_bill_exactly_the_prose_around_them(server):
    texts = [text for text, _, _ in UNFENCED] + SPAN_ONLY
    out, svc = translate(server, texts)
    prose = sum(len(around) for _, _, around in UNFENCED)
    assert server.character_count == svc.usage.billed_characters == prose
    sent = server.translated_texts()
    assert len(sent) == len(UNFENCED)  # the span-only texts never left the machine
    for (text, code, _), translated in zip(UNFENCED, out):
        assert code in translated and all(code not in s for s in sent)  # restored locally, never sent
        assert translated != text and untranslate(translated) == text  # the prose was translated
    assert out[len(UNFENCED):] == SPAN_ONLY


def test_a_request_of_span_only_texts_is_never_made(server):
    out, svc = translate(server, SPAN_ONLY)
    assert out == SPAN_ONLY
    assert server.translate_requests() == [] and svc.usage.billed_characters == 0 and svc.usage.requests == 0


def test_noinput_is_normalised_and_an_unchanged_input_is_flagged(server):
    records = [Record.from_alpaca("Summarize the text.", input="<noinput>", output="Fine.", id="a"),
               Record.from_alpaca("Name the brand.", input="No input", output="Acme.", id="b"),
               # already Korean: the engine hands it back as it was (so does DeepL), and it is flagged
               Record.from_alpaca("Translate the greeting.", input="안녕하세요, 반갑습니다.", output="Hello.", id="c")]
    svc = service(server)

    async def go():
        try:
            return await translate_records(records, ["instruction", "input"], svc, "en", "ko")
        finally:
            await svc.aclose()

    (first, _), (second, _), (third, _) = asyncio.run(go())
    assert first.input == "" and second.input == ""  # no input, not a translated marker
    sent = server.translated_texts()
    assert all("noinput" not in t.lower() and "no input" not in t.lower() for t in sent)
    assert "unchanged" not in first.meta["translation"] and "unchanged" not in second.meta["translation"]
    assert third.input == "안녕하세요, 반갑습니다." and third.meta["translation"]["unchanged"] == ["input"]


def test_a_translate_recipe_drops_an_input_deepl_returned_unchanged(server, tmp_path):
    """The default filters (the Alpaca-era mapping) include translation_qa: the already-Korean input comes back
    from the engine as it was sent, and the record is dropped as untranslated, before anything else is paid."""
    import json

    from factory.testing.helpers import read_journal_rows, run_cli

    rows = [{"instruction": "Summarize the paragraph in one sentence.", "input": "Cats sleep for most of the day.",
             "output": "Cats sleep a lot."},
            {"instruction": "Translate the greeting into English.", "input": "안녕하세요, 반갑습니다. 오늘 날씨가 좋네요.",
             "output": "Hello, nice to meet you."},
            {"instruction": "Give three tips for a job interview.", "input": "<noinput>", "output": "Prepare well."}]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    recipe = tmp_path / "t.yaml"
    recipe.write_text(f"name: t\nlanguage: ko\nsource: {{path: {source.name}}}\nexport: {{enabled: false}}\n"
                      f"translate: {{plugin: deepl, source_lang: en, server_url: '{server.server_url}', "
                      "auth_key_env: TEST_DEEPL_KEY}\n", encoding="utf-8")
    done = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
    assert done.returncode == 0, done.stderr
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    rejected = read_journal_rows(tmp_path / "run" / "rejected.jsonl")
    assert [(r["reason"], r["detail"]) for r in rejected] == [("untranslated", "input came back as sent")]
    assert len(accepted) == 2 and accepted[1]["input"] == ""  # <noinput> is no input, in the dataset too


def test_translations_paid_for_under_the_old_masking_are_reused_unless_their_code_was_translated(server):
    """Scheme 1 sent spans inside <keep>...</keep> and did not protect unfenced code: its cached outputs still
    serve texts whose spans are the same, and a text with an unfenced code line is translated again."""
    from factory.translation import TranslationCache as Cache

    svc = service(server)
    engine = svc.translator.identity_key
    old = {"See https://example.com now.": "해 <keep>https://example.com</keep> 지금.",
           "Explain:\nprint(len(x))": "설명:\n프린트(렌(x))"}  # scheme 1 translated the unfenced code
    with Cache() as cache:
        for text, output in old.items():
            cache.put(Cache.key(engine, "en", "ko", text, scheme="1"), engine="deepl", source="en", target="ko",
                      text=text, output=output, attempts=1)
    out, svc = translate(server, list(old))
    assert out[0] == "해 https://example.com 지금." and svc.usage.cached_characters == len("See https://example.com now.")
    assert "print(len(x))" in out[1]  # sent again, the code protected this time
    assert server.translated_texts() == ['Explain:\n<keep i="1"/>'] and server.character_count == len("Explain:\n")
