"""The deepl translator passes the translator conformance suite, against the loopback DeepL server."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from factory.testing.conformance import TranslatorConformance
from factory_deepl.loopback import LoopbackDeepL
from factory_deepl.translator import DeepLTranslator


GLOSSARY = Path(tempfile.mkdtemp(prefix="factory-glossary-")) / "terms.tsv"
GLOSSARY.write_text("factory\t공장\n", encoding="utf-8")


class TestDeepLTranslatorConformance(TranslatorConformance):
    plugin = DeepLTranslator
    options = {"server_url": "http://127.0.0.1:9"}
    identity_changes = {"server_url": "http://127.0.0.1:10", "formality": "prefer_more", "glossary": str(GLOSSARY)}
    runtime_changes = {"auth_key_env": "OTHER_KEY", "max_texts_per_request": 10, "max_request_bytes": 8192,
                       "concurrency": 2, "timeout_s": 5.0}

    @pytest.fixture
    def make_translator(self, monkeypatch):
        with LoopbackDeepL(latency_s=0.05) as server:
            monkeypatch.setenv("DEEPL_AUTH_KEY", server.auth_key)
            yield lambda: DeepLTranslator(server_url=server.server_url)

    def test_the_glossary_counts_by_its_entries_not_its_path(self, tmp_path):
        one, two, other = tmp_path / "a.tsv", tmp_path / "b.tsv", tmp_path / "c.tsv"
        one.write_text("apple\t사과\n", encoding="utf-8")
        two.write_text("apple\t사과\n", encoding="utf-8")
        other.write_text("apple\t애플\n", encoding="utf-8")
        identity = lambda path: DeepLTranslator.identity_for(DeepLTranslator.options_model(glossary=str(path)))  # noqa: E731
        assert identity(one) == identity(two) != identity(other)
