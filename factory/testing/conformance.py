"""Conformance suites a plugin's own tests run, so an author knows when a plugin is right.

Subclass the suite for your plugin kind in a test module and fill in the class attributes::

    from factory.testing.conformance import LanguageConformance

    class TestMyLanguage(LanguageConformance):
        code = "xx"
        distribution = "factory-xx"
        sample = "A sentence written in the language."
        other = "Ein Satz in einer anderen Sprache."

pytest collects every ``test_*`` method of the subclass. The suites use only the public plugin
contracts, so they pass for built-in and third-party plugins alike.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from factory.languages import Language
from factory.plugins import get_registry
from factory.records import Record, load_seed_tasks
from factory.teachers import Completion, TeacherRequest


class LanguageConformance:
    """What every language plugin must do."""

    code: ClassVar[str] = ""
    distribution: ClassVar[str | None] = None  # check the registering distribution when set
    sample: ClassVar[str] = ""  # an instruction written in the language
    other: ClassVar[str] = "Please summarize the following paragraph in two sentences."  # not in the language
    mixed: ClassVar[str | None] = None  # text mixing the language with Latin words and digits
    blacklisted: ClassVar[str | None] = None  # an instruction the blacklist must catch
    options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def language(self) -> Language:
        entry = get_registry(refresh=True).get("language", self.code)
        if self.distribution:
            assert entry.distribution == self.distribution
        return entry.obj(**self.options)

    def test_is_a_language_with_its_code(self, language):
        assert isinstance(language, Language)
        assert language.code == self.code and language.name

    def test_tokenizer_is_deterministic_and_non_trivial(self, language):
        first = language.tokenize(self.sample)
        assert first == language.tokenize(self.sample)
        assert len(first) >= 2 and all(isinstance(t, str) and t for t in first)

    def test_batch_tokenization_equals_single(self, language):
        texts = [self.sample, self.other, "", self.mixed or self.sample]
        assert language.tokenize_many(texts) == [language.tokenize(t) for t in texts]

    def test_empty_and_whitespace_text(self, language):
        assert language.tokenize("") == []
        assert language.tokenize("   \n ") == []
        assert language.count_words("") == 0

    def test_mixed_script_keeps_latin_and_digits(self, language):
        if not self.mixed:
            pytest.skip("no mixed-script sample given")
        tokens = language.tokenize(self.mixed)
        assert any(any(ch.isdigit() for ch in t) for t in tokens)
        assert any(t.isascii() and t.isalpha() for t in tokens)

    def test_script_check(self, language):
        assert language.is_in_language(self.sample)
        if self.other:
            assert not language.is_in_language(self.other)
        assert not language.is_in_language("1234 !!!")

    def test_length_measure(self, language):
        assert language.count_words(self.sample) >= 1
        assert language.min_instruction_words <= language.max_instruction_words

    def test_blacklist(self, language):
        if self.blacklisted:
            assert language.blacklisted(self.blacklisted)
        assert not language.blacklisted(self.sample)

    def test_prompt_wording_parses_back(self, language):
        from factory.default_plugins.self_instruct import SelfInstruct

        method = SelfInstruct()
        wording = language.prompt
        demos = [Record(self.sample, "", self.sample, id="d1"), Record(self.sample, self.sample, self.sample, id="d2")]
        prompt = method.build_prompt(demos, wording)
        assert prompt.endswith(f"3. {wording.instruction_label}:")
        reply = (f" {self.sample}\n3. {wording.input_label}:\n{wording.noinput}\n3. {wording.output_label}:\n{self.sample}\n###\n"
                 f"4. {wording.instruction_label}: {self.sample}\n4. {wording.input_label}:\n{self.mixed or self.sample}\n"
                 f"4. {wording.output_label}:\n{self.sample}\n###\n")
        parsed, rejected = method.parse(Completion(reply, "stop"), wording, 3, "c")
        assert rejected == []
        assert [(r.instruction, r.input) for r in parsed] == [(self.sample, ""), (self.sample, self.mixed or self.sample)]

    def test_templates_render(self, language):
        template = language.template()
        with_input = template.render(self.sample, "context")
        without = template.render(self.sample)
        assert self.sample in with_input and "context" in with_input
        assert self.sample in without and "context" not in without
        for name in language.templates:
            assert language.template(name).render("x")

    def test_default_seeds_load(self, language):
        if language.default_seeds is None or not language.default_seeds.exists():
            pytest.skip("the plugin ships no seed set")
        seeds = load_seed_tasks(language.default_seeds)
        assert len(seeds) >= 20
        assert sum(1 for s in seeds if language.is_in_language(s.instruction)) >= 0.9 * len(seeds)


class TeacherConformance:
    """What every teacher plugin must do. Provide ``make_teacher`` (a fixture returning a teacher)."""

    secret: ClassVar[str | None] = None  # a secret the teacher was given; it must not show in identity

    @pytest.fixture
    def make_teacher(self):  # pragma: no cover - the plugin's test overrides it
        raise NotImplementedError("override make_teacher in your test class")

    def _run(self, coro):
        return asyncio.run(coro)

    def test_identity_names_the_model_without_secrets(self, make_teacher):
        teacher = make_teacher()
        assert isinstance(teacher.identity, str) and teacher.identity
        if self.secret:
            assert self.secret not in teacher.identity
        self._run(teacher.aclose())

    def test_complete_returns_text_finish_reason_and_usage(self, make_teacher):
        async def go():
            teacher = make_teacher()
            try:
                return await teacher.complete(TeacherRequest(prompt="1. Instruction: say hello\n1. Output:", max_tokens=8, temperature=0.0))
            finally:
                await teacher.aclose()

        completion = self._run(go())
        assert isinstance(completion, Completion) and isinstance(completion.text, str)
        assert completion.finish_reason in ("stop", "length")
        assert completion.prompt_tokens > 0 and completion.completion_tokens >= 0

    def test_cancellation_leaves_the_teacher_usable(self, make_teacher):
        async def go():
            teacher = make_teacher()
            try:
                task = asyncio.ensure_future(teacher.complete(TeacherRequest(prompt="count slowly", max_tokens=64)))
                await asyncio.sleep(0)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                return await teacher.complete(TeacherRequest(prompt="again", max_tokens=4, temperature=0.0))
            finally:
                await teacher.aclose()

        assert isinstance(self._run(go()), Completion)


class TranslatorConformance:
    """What every translator plugin must do. Provide ``make_translator`` (a fixture)."""

    source: ClassVar[str] = "en"
    target: ClassVar[str] = "ko"

    @pytest.fixture
    def make_translator(self):  # pragma: no cover - the plugin's test overrides it
        raise NotImplementedError("override make_translator in your test class")

    def test_translates_every_text_and_reports_billing(self, make_translator):
        async def go():
            translator = make_translator()
            try:
                return await translator.translate(["Good morning.", "How are you?"], self.source, self.target)
            finally:
                await translator.aclose()

        result = asyncio.run(go())
        assert len(result.texts) == 2 and all(isinstance(t, str) and t for t in result.texts)
        assert result.billed_characters >= 0

    def test_identity_is_stable(self, make_translator):
        a, b = make_translator(), make_translator()
        assert a.identity == b.identity and a.identity
        asyncio.run(a.aclose())
        asyncio.run(b.aclose())

    def test_cancellation_leaves_the_translator_usable(self, make_translator):
        async def go():
            translator = make_translator()
            try:
                task = asyncio.ensure_future(translator.translate(["One sentence."], self.source, self.target))
                await asyncio.sleep(0)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                return await translator.translate(["Another sentence."], self.source, self.target)
            finally:
                await translator.aclose()

        assert len(asyncio.run(go()).texts) == 1
