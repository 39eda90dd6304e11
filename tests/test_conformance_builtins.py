"""The built-in teacher, translator and method pass the conformance suites third-party plugins run.

The suites are only worth running if the plugins the core ships pass them: the
``openai`` teacher and the ``deepl`` translator against the loopback servers the
suites provide (real client libraries, 127.0.0.1), and the ``self-instruct`` method.
"""

from __future__ import annotations

import pytest

from factory.default_plugins.self_instruct import SelfInstruct
from factory.testing.conformance import MethodConformance, TeacherConformance, TranslatorConformance


class TestOpenAITeacherConformance(TeacherConformance):
    secret = "sk-" + "loopback-conformance-0123456789"  # fake, assembled at run time

    @pytest.fixture
    def make_teacher(self, monkeypatch, loopback_openai):
        teacher_module = pytest.importorskip("factory_openai.teacher")
        monkeypatch.setenv("OPENAI_API_KEY", self.secret)
        return lambda: teacher_module.OpenAITeacher(model="loopback-model", base_url=loopback_openai.base_url)


class TestDeepLTranslatorConformance(TranslatorConformance):
    @pytest.fixture
    def make_translator(self, monkeypatch, loopback_deepl):
        translator_module = pytest.importorskip("factory_deepl.translator")
        monkeypatch.setenv("DEEPL_AUTH_KEY", loopback_deepl.auth_key)
        return lambda: translator_module.DeepLTranslator(server_url=loopback_deepl.server_url)


class TestSelfInstructConformance(MethodConformance):
    reply = (
        " Name three rivers in Asia.\n4. Input:\n<noinput>\n4. Output:\nThe Mekong, the Ganges and the Yangtze.\n###\n"
        "5. Instruction: Turn the sentence into a question.\n5. Input:\nThe shop opens at nine.\n5. Output:\n"
        "Does the shop open at nine?\n###\n"
        "6. Instruction: Give a synonym of quick.\n6. Input:\n<noinput>\n6. Output:\nFast."
    )

    @pytest.fixture
    def make_method(self):
        return SelfInstruct
