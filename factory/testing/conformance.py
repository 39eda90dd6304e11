"""Conformance suites a plugin's own tests run, so an author knows when a plugin is right.

Subclass the suite for your plugin kind in a test module and fill in the class attributes::

    from factory.testing.conformance import LanguageConformance

    class TestMyLanguage(LanguageConformance):
        code = "xx"
        distribution = "koalpaca-factory-xx"
        sample = "A sentence written in the language."
        other = "Ein Satz in einer anderen Sprache."

pytest collects every ``test_*`` method of the subclass. The suites use only the public plugin
contracts, so they pass for built-in and third-party plugins alike. There is one suite per plugin
kind: :class:`LanguageConformance`, :class:`TeacherConformance`, :class:`TranslatorConformance`,
:class:`MethodConformance`, :class:`TrainerConformance` and :class:`PublisherConformance`;
``factory new-plugin KIND NAME`` writes a test module that runs the right one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from factory.languages import Language
from factory.latin import is_latin_script
from factory.plugins import get_registry
from factory.records import Record, load_seed_tasks
from factory.teachers import Completion, TeacherRequest


#: English instructions every other language must reject: a script check that accepts them turns the
#: ``wrong_language`` filter into a no-op for that language.
ENGLISH_INSTRUCTIONS = (
    "Summarize the following paragraph in two sentences.",
    "Explain why the sky looks blue during the day.",
    "List three ways to save money on groceries.",
    "What is the capital of Australia?",
    "Classify each animal as a mammal or a bird.",
    "Write a short poem about the sea at night.",
)
#: Latin-script instructions in languages other than English (German, Vietnamese, Indonesian, French):
#: a language written in another script must reject them as well.
LATIN_SCRIPT_INSTRUCTIONS = (
    "Beschreiben Sie kurz die Vorteile von Fahrrädern in der Stadt.",
    "Hãy giải thích vì sao bầu trời có màu xanh.",
    "Tuliskan tiga tips untuk menghemat uang belanja.",
    "Écrivez une courte lettre de remerciement à un collègue.",
)


class LanguageConformance:
    """What every language plugin must do.

    Beyond the basics, the script check must reject English (unless the language is English) and, for a
    language not written in Latin letters (judged from ``sample``), Latin-script text in other languages.
    """

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

    def test_script_check_rejects_english(self, language):
        accepted = [text for text in ENGLISH_INSTRUCTIONS if language.is_in_language(text)]
        if self.code.split("-")[0].lower() == "en":  # English itself must take every one of them
            assert accepted == list(ENGLISH_INSTRUCTIONS)
        else:
            assert not accepted, f"is_in_language accepts English as '{self.code}': {accepted}"

    def test_script_check_of_a_non_latin_script_rejects_latin_text(self, language):
        if is_latin_script(self.sample):
            pytest.skip("the language is written in Latin letters (see test_script_check_rejects_english)")
        accepted = [text for text in LATIN_SCRIPT_INSTRUCTIONS if language.is_in_language(text)]
        assert not accepted, f"is_in_language accepts Latin-script text as '{self.code}': {accepted}"

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
        demos = [Record.from_alpaca(self.sample, "", self.sample, id="d1"), Record.from_alpaca(self.sample, self.sample, self.sample, id="d2")]
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

    @pytest.fixture
    def loopback_openai(self):
        """A running OpenAI-compatible server on 127.0.0.1 for ``make_teacher`` to point at.

        It is :class:`factory_openai.loopback.LoopbackOpenAI`: script replies and
        faults (429, 5xx, timeouts, broken bodies) with ``script``/``inject``.
        """
        from factory_openai.loopback import LoopbackOpenAI

        with LoopbackOpenAI(latency_s=0.05) as server:
            yield server

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

    @pytest.fixture
    def loopback_deepl(self):
        """A running DeepL-compatible server on 127.0.0.1 (auth key ``loopback-key``) for ``make_translator``.

        It is :class:`factory_deepl.loopback.LoopbackDeepL`: it translates deterministically,
        bills characters and can play 429, 456 (quota) and 5xx faults.
        """
        from factory_deepl.loopback import LoopbackDeepL

        with LoopbackDeepL(latency_s=0.05) as server:
            yield server

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


def _rejects_unknown_options(model: Any) -> None:
    """A plugin's ``options_model`` must refuse keys it does not know (a typo in a recipe is an error)."""
    import pydantic

    assert isinstance(model, type) and issubclass(model, pydantic.BaseModel)
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"no_such_option_xyz": 1})


class MethodConformance:
    """What every generation method must do. Provide ``make_method`` (a fixture) and ``reply``.

    ``reply`` is a teacher reply the method must parse into at least one record, with the
    language ``language_code``'s wording; ``first_number`` is the number of its first task.
    """

    language_code: ClassVar[str] = "en"
    reply: ClassVar[str] = ""
    first_number: ClassVar[int] = 4

    @pytest.fixture
    def make_method(self):  # pragma: no cover - the plugin's test overrides it
        raise NotImplementedError("override make_method in your test class")

    @pytest.fixture
    def language(self) -> Language:
        return get_registry(refresh=True).get("language", self.language_code).obj()

    @pytest.fixture
    def seeds(self) -> list[Record]:
        return [Record.from_alpaca(f"Seed task number {i}: name {i + 2} colours.", "", f"Answer {i}.", id=f"s{i}") for i in range(8)]

    def test_options_are_validated_and_expose_what_the_engine_reads(self, make_method):
        method = make_method()
        _rejects_unknown_options(type(method).options_model)
        # the generate stage reads these two options of every method
        assert method.options.num_prompt_instructions >= 1
        assert method.options.max_stalled_batches >= 1

    def test_requests_are_deterministic_for_a_seed_and_batch(self, make_method, language, seeds):
        first = make_method().requests_for_batch(3, 4, seeds, language, 42)
        again = make_method().requests_for_batch(3, 4, seeds, language, 42)
        assert len(first) == 4 and first == again
        assert all(isinstance(r, TeacherRequest) and (r.prompt or r.messages) for r in first)
        assert make_method().requests_for_batch(4, 4, seeds, language, 42) != first

    def test_parses_a_reply_into_records(self, make_method, language):
        assert self.reply, "set `reply` to a teacher reply your method parses"
        records, rejected = make_method().parse(Completion(self.reply, "stop"), language.prompt, self.first_number, "t")
        assert records and all(isinstance(r, Record) and r.instruction and r.id for r in records)
        assert len({r.id for r in records}) == len(records)
        assert all(len(item) == 3 for item in rejected)

    def test_empty_and_truncated_replies_give_no_broken_records(self, make_method, language):
        method = make_method()
        records, _ = method.parse(Completion("", "stop"), language.prompt, self.first_number, "t")
        assert records == []
        full, _ = method.parse(Completion(self.reply, "stop"), language.prompt, self.first_number, "t")
        whole = {(r.instruction, r.input, r.output) for r in full}
        for cut in (len(self.reply) // 3, 2 * len(self.reply) // 3, len(self.reply) - 2):
            # a reply cut by max_tokens: whatever is kept must be a complete task, never a cut-off one
            cut_records, _ = method.parse(Completion(self.reply[:cut], "length"), language.prompt, self.first_number, "t")
            assert {(r.instruction, r.input, r.output) for r in cut_records} <= whole


class TrainerConformance:
    """What every trainer plugin must do. Provide ``make_trainer`` (a fixture) and ``options``.

    The suite trains on a tiny Alpaca file, so keep ``options`` as small as your trainer allows.
    """

    options: ClassVar[dict[str, Any]] = {}
    language_code: ClassVar[str] = "en"

    @pytest.fixture
    def make_trainer(self):  # pragma: no cover - the plugin's test overrides it
        raise NotImplementedError("override make_trainer in your test class")

    @pytest.fixture
    def train_options(self) -> dict[str, Any]:
        """The trainer options of the suite's job: ``options``; override it when they need a fixture (a model folder)."""
        return dict(self.options)

    @pytest.fixture
    def job(self, tmp_path, make_trainer, train_options):
        from factory.trainers import TrainJob

        data = tmp_path / "train.jsonl"
        rows = [{"instruction": f"Add {i} and {i}.", "input": "", "output": str(2 * i)} for i in range(8)]
        rows.append({"instruction": "Reverse the word.", "input": "factory", "output": "yrotcaf"})
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        options = type(make_trainer()).options_model.model_validate(train_options).model_dump()
        language = get_registry(refresh=True).get("language", self.language_code).obj()
        return TrainJob(data_files=[data], output_dir=tmp_path / "out", options=options, language=language)

    def test_options_model_rejects_unknown_keys(self, make_trainer):
        _rejects_unknown_options(type(make_trainer()).options_model)

    def test_train_writes_its_output_and_reports_metrics(self, make_trainer, job):
        from factory.trainers import TrainResult

        events: list[dict[str, Any]] = []
        job.progress = events.append
        result = make_trainer().train(job)
        assert isinstance(result, TrainResult)
        assert Path(result.output_dir).is_dir() and any(Path(result.output_dir).iterdir())
        assert isinstance(result.metrics, dict)
        assert all(isinstance(e, dict) for e in events)

    def test_launch_command_is_an_argv_naming_the_recipe(self, make_trainer, job):
        argv = make_trainer().launch_command(job, "recipes/my-recipe.yaml")
        assert isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)
        assert any("recipes/my-recipe.yaml" in a for a in argv)


class PublisherConformance:
    """What every publisher plugin must do. Provide ``make_publisher`` and ``repo`` (fixtures).

    ``repo`` is where a test may publish (a loopback server's repo, a temporary folder...).
    """

    @pytest.fixture
    def make_publisher(self):  # pragma: no cover - the plugin's test overrides it
        raise NotImplementedError("override make_publisher in your test class")

    @pytest.fixture
    def repo(self):  # pragma: no cover - the plugin's test overrides it
        raise NotImplementedError("override repo in your test class")

    @pytest.fixture
    def folder(self, tmp_path) -> Path:
        folder = tmp_path / "export"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "train.jsonl").write_text('{"instruction": "Say hi.", "input": "", "output": "Hi."}\n')
        (folder / "README.md").write_text("# A tiny dataset\n")
        return folder

    def test_options_model_rejects_unknown_keys(self, make_publisher):
        _rejects_unknown_options(type(make_publisher()).options_model)

    def test_publishes_every_file_once_and_not_again_when_unchanged(self, make_publisher, repo, folder):
        publisher = make_publisher()
        first = publisher.publish(folder, repo)
        assert sorted(first.files) == ["README.md", "data/train.jsonl"]
        assert first.url and first.commit
        again = publisher.publish(folder, repo)
        assert again.commit is None
        (folder / "README.md").write_text("# A tiny dataset, second edition\n")
        assert publisher.publish(folder, repo).commit not in (None, first.commit)

    def test_dry_run_writes_the_tree_locally(self, make_publisher, repo, folder, tmp_path):
        result = make_publisher().publish(folder, repo, dry_run_dir=tmp_path / "dry")
        assert result.commit is None
        assert (tmp_path / "dry" / "data" / "train.jsonl").read_bytes() == (folder / "data" / "train.jsonl").read_bytes()

    def test_refuses_to_publish_a_secret(self, make_publisher, repo, folder, tmp_path):
        from factory.errors import UserError

        (folder / "notes.txt").write_text("api_key: " + "sk-" + "proj-" + "abcdefghijklmnopqrstuvwxyz0123456789\n")  # built at run time: no secret-shaped literal in the repo
        with pytest.raises(UserError) as info:
            make_publisher().publish(folder, repo)
        assert "sk-proj" not in str(info.value)
        with pytest.raises(UserError):
            make_publisher().publish(folder, repo, dry_run_dir=tmp_path / "dry")
