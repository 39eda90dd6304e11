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
:class:`MethodConformance`, :class:`FilterConformance`, :class:`TrainerConformance`, :class:`PublisherConformance`
and :class:`ExecutorConformance`;
``factory new-plugin KIND NAME`` writes a test module that runs the right one.

Every suite also checks the identity contract (:class:`IdentityContract`): each option is either
runtime (changing it keeps a run resumable and its caches warm) or part of the identity (changing it
refuses a resume, naming the option). Give ``options`` (valid options), ``identity_changes`` (another
valid value for every identity option) and ``runtime_changes`` (the same for every runtime option).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from factory.contracts import identity_key, runtime_fields
from factory.languages import Language
from factory.latin import is_latin_script
from factory.plugins import get_registry
from factory.records import Record, load_seed_tasks
from factory.teachers import Completion, TeacherRequest


class Together(dict):
    """An identity or runtime change that needs other options changed with it (options that exclude each
    other): ``identity_changes = {"bundled": Together(bundled="gemma3-270m", model=None)}``; None drops a key."""


class IdentityContract:
    """Strict options, and every option classified: runtime, or part of the identity."""

    plugin: ClassVar[type | None] = None  # the plugin class (set it, or let the suite find it)
    options: ClassVar[dict[str, Any]] = {}  # valid options
    identity_changes: ClassVar[dict[str, Any]] = {}  # identity option -> another valid value
    runtime_changes: ClassVar[dict[str, Any]] = {}  # runtime option -> another valid value

    def plugin_class(self) -> type:
        assert self.plugin is not None, "set `plugin` to your plugin class"
        return self.plugin

    def _identity(self, **changes: Any) -> dict[str, Any]:
        cls = self.plugin_class()
        data = dict(self.options)
        for name, value in changes.items():
            for key, item in (value.items() if isinstance(value, Together) else [(name, value)]):
                if isinstance(value, Together) and item is None:
                    data.pop(key, None)
                else:
                    data[key] = item
        return cls.identity_for(cls.options_model.model_validate(data))

    def test_options_model_rejects_unknown_keys(self):
        _rejects_unknown_options(self.plugin_class().options_model)

    def test_every_option_is_classified(self):
        model = self.plugin_class().options_model
        runtime = runtime_fields(model)
        fields = set(model.model_fields)
        assert set(self.runtime_changes) <= runtime, "runtime_changes names options not marked runtime"
        assert set(self.identity_changes) <= fields - runtime, "identity_changes names runtime or unknown options"
        missing = fields - set(self.runtime_changes) - set(self.identity_changes)
        assert not missing, f"give identity_changes or runtime_changes for: {', '.join(sorted(missing))}"

    def test_identity_is_json_and_stable(self):
        first, again = self._identity(), self._identity()
        assert first == again and json.loads(json.dumps(first)) == first

    def test_runtime_options_keep_the_run_resumable_and_the_cache_warm(self):
        base = self._identity()
        for name, value in self.runtime_changes.items():
            changed = self._identity(**{name: value})
            assert changed == base and identity_key(changed) == identity_key(base), name

    def test_other_options_refuse_a_resume_by_name(self):
        from factory.runfolder import diff_fingerprints

        base = self._identity()
        for name, value in self.identity_changes.items():
            changes = diff_fingerprints({"plugin": base}, {"plugin": self._identity(**{name: value})})
            assert changes, f"changing {name} does not change the identity"
            assert any(name in line for line in changes), (name, changes)


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


class LanguageConformance(IdentityContract):
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

    def plugin_class(self) -> type:
        return self.plugin or get_registry().get("language", self.code).obj

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
        parsed, rejected = method.parse_text(Completion(reply, "stop"), wording, 3, "c")
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


class TeacherConformance(IdentityContract):
    """What every teacher plugin must do. Provide ``plugin``, ``options`` (the identity contract's) and
    ``make_teacher`` (a fixture returning a function that builds a ready teacher)."""

    secret: ClassVar[str | None] = None  # a secret the teacher was given; it must show nowhere

    @pytest.fixture
    def make_teacher(self):  # pragma: no cover - the plugin's test overrides it
        raise NotImplementedError("override make_teacher in your test class")

    def _run(self, coro):
        return asyncio.run(coro)

    def test_identity_and_description_name_the_model_without_secrets(self, make_teacher):
        teacher = make_teacher()
        try:
            identity = json.dumps(teacher.identity)
            description = type(teacher).describe_for(teacher.options)
            assert description.model and description.endpoint_kind
            if self.secret:
                assert self.secret not in identity and self.secret not in description.model_dump_json()
        finally:
            self._run(teacher.aclose())

    def test_price_and_requirements_come_from_options_alone(self):
        cls = self.plugin_class()
        options = cls.options_model.model_validate(self.options)
        price = cls.price_for(options)
        assert price.input_per_1m >= 0 and price.output_per_1m >= 0
        assert all(r.module or r.env for r in cls.requirements_for(options))

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


class TranslatorConformance(IdentityContract):
    """What every translator plugin must do. Provide ``plugin``, ``options`` and ``make_translator`` (a fixture)."""

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

    def test_identity_and_description_are_stable(self, make_translator):
        a, b = make_translator(), make_translator()
        assert a.identity == b.identity and a.identity_key == b.identity_key
        description = type(a).describe_for(a.options)
        assert description.engine
        assert type(a).price_for(a.options).per_1m_characters >= 0
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


class MethodConformance(IdentityContract):
    """What every generation method must do. Provide ``plugin``, ``options`` and ``reply``.

    ``reply`` is a teacher reply the method must turn into at least one record, in the language
    ``language_code``; the suite serves it from an in-process teacher, so ``run_batch`` runs for real.
    """

    language_code: ClassVar[str] = "en"
    reply: ClassVar[str] = ""

    @pytest.fixture
    def language(self) -> Language:
        return get_registry(refresh=True).get("language", self.language_code).obj()

    @pytest.fixture
    def seeds(self) -> list[Record]:
        return [Record.from_alpaca(f"Seed task number {i}: name {i + 2} colours.", "", f"Answer {i}.", id=f"s{i}")
                for i in range(8)]

    def make(self):
        cls = self.plugin_class()
        return cls(cls.options_model.model_validate(self.options))

    def context(self, language, seeds, reply: str | None = None):
        from factory.costs import Usage
        from factory.methods import MethodContext
        from factory.teaching import TeacherClient, TeacherSettings
        from factory.testing.fake_teacher import FakeTeacher

        text = self.reply if reply is None else reply
        teacher = FakeTeacher(responder="echo")
        teacher._respond = lambda body: text
        client = TeacherClient(teacher, TeacherSettings(concurrency=4), cache=None, usage=Usage(), budget=None)
        inputs = [Record.from_alpaca(f"Answer question {i}: what is {i} plus {i}?", id=f"q{i}") for i in range(4)]
        return MethodContext(language=language, seeds=seeds, inputs=inputs, recipe_seed=42, batch_size=3,
                             teacher=client, client_for=lambda spec: client)

    def test_run_batch_turns_replies_into_records_with_unique_ids(self, language, seeds):
        assert self.reply, "set `reply` to a teacher reply your method turns into records"
        from factory.methods import BatchResult

        method = self.make()
        ctx = self.context(language, seeds)
        method.prepare(ctx)
        result = asyncio.run(method.run_batch(ctx, 0))
        assert isinstance(result, BatchResult) and result.records
        assert all(isinstance(r, Record) and r.messages and r.id for r in result.records)
        assert len({r.id for r in result.records}) == len(result.records)
        assert all(len(item) == 3 and isinstance(item[1], str) for item in result.rejected)

    def test_a_batch_is_the_same_on_every_run(self, language, seeds):
        first = asyncio.run(self.make().run_batch(self.context(language, seeds), 2))
        again = asyncio.run(self.make().run_batch(self.context(language, seeds), 2))
        assert [r.to_dict() for r in first.records] == [r.to_dict() for r in again.records]

    def test_empty_replies_give_no_broken_records(self, language, seeds):
        result = asyncio.run(self.make().run_batch(self.context(language, seeds, reply=""), 0))
        assert all(r.instruction.strip() for r in result.records)

    def test_stall_rule_fingerprint_and_estimate(self, language, seeds):
        from factory.methods import MethodEstimate

        method = self.make()
        ctx = self.context(language, seeds)
        stall = method.max_stalled_batches()
        assert stall is None or stall >= 1
        assert method.prompt_fingerprint(ctx) == self.make().prompt_fingerprint(ctx)
        estimate = method.estimate(ctx, 100, 0.5)
        assert isinstance(estimate, MethodEstimate) and estimate.requests >= 0
        assert estimate.completion_tokens_max >= estimate.completion_tokens >= 0


class FilterConformance(IdentityContract):
    """What every filter plugin must do. Provide ``plugin``, ``options`` (the identity contract's), and rows
    the filter built from ``options`` must keep (``kept``) and reject (``rejected``): Alpaca fields or
    ``messages``, with ``meta`` where the filter reads it; ``seeds`` are the run's seed tasks.

    A filter that calls a teacher (a judge) gets it from :meth:`make_context`: override it to hand
    ``client_for`` a client (an in-process or loopback teacher).
    """

    language_code: ClassVar[str] = "en"
    seeds: ClassVar[list[dict[str, Any]]] = []
    kept: ClassVar[list[dict[str, Any]]] = []
    rejected: ClassVar[list[dict[str, Any]]] = []

    @pytest.fixture
    def language(self) -> Language:
        return get_registry(refresh=True).get("language", self.language_code).obj()

    def make_context(self, language: Language) -> Any:
        """The FilterContext of the suite's runs (override to give a judge's teacher through ``client_for``)."""
        from factory.filtering import FilterContext

        return FilterContext(language=language, seeds=[_row(s, f"seed-{i}") for i, s in enumerate(self.seeds)])

    def chain(self, language: Language) -> Any:
        from factory.filtering import ConfiguredFilter, FilterChain

        cls = self.plugin_class()
        ctx = self.make_context(language)
        built = FilterChain([ConfiguredFilter("under-test", cls(cls.options_model.model_validate(self.options)))], ctx)
        built.add_to_pool(ctx.seeds, seeds=True)
        return built

    def verdicts(self, language: Language, rows: list[dict[str, Any]]) -> list[Any]:
        """One verdict per row, straight from the plugin (through ``judge_async``, as the chain calls it)."""
        chain = self.chain(language)
        records = [_row(r, f"r{i}") for i, r in enumerate(rows)]
        return asyncio.run(chain.filters[0].plugin.judge_async(records))

    def test_reasons_are_declared_as_codes_with_meanings(self):
        reasons = self.plugin_class().reasons
        assert reasons and all(isinstance(k, str) and k.isidentifier() and k.islower() for k in reasons)
        assert all(isinstance(v, str) and v for v in reasons.values())

    def test_target_is_a_known_target(self, language):
        from factory.records import TARGETS

        assert self.chain(language).filters[0].plugin.target in TARGETS

    def test_keeps_and_rejects_the_examples_with_declared_reasons(self, language):
        assert self.kept and self.rejected, "give rows in `kept` and `rejected`"
        assert self.verdicts(language, self.kept) == [None] * len(self.kept)
        reasons = self.plugin_class().reasons
        for verdict in self.verdicts(language, self.rejected):
            assert verdict is not None, "a row of `rejected` was kept"
            code, detail = verdict
            assert code in reasons and isinstance(detail, str)

    def test_one_verdict_per_record_in_order_and_none_for_no_records(self, language):
        assert self.verdicts(language, []) == []
        mixed = [self.rejected[0], self.kept[0], self.rejected[0], self.kept[0]]
        verdicts = self.verdicts(language, mixed)
        assert [v is None for v in verdicts] == [False, True, False, True] or self.plugin_class().stateful

    def test_a_fresh_filter_gives_the_same_verdicts(self, language):
        rows = self.kept + self.rejected
        assert self.verdicts(language, rows) == self.verdicts(language, rows)

    def test_records_without_the_target_text_do_not_break_it(self, language):
        bare = [{"instruction": "Name a colour."}, {"messages": [{"role": "user", "content": "Hello there."}]},
                {"messages": []}]
        verdicts = self.verdicts(language, bare)
        assert len(verdicts) == 3 and all(v is None or v[0] in self.plugin_class().reasons for v in verdicts)

    def test_the_chain_runs_it_and_describe_is_json(self, language):
        chain = self.chain(language)
        records = [_row(r, f"c{i}") for i, r in enumerate(self.kept + self.rejected)]
        kept, rejected = chain.apply_sync(records)
        assert len(kept) + len(rejected) == len(records) and len(rejected) >= len(self.rejected)
        assert json.loads(json.dumps(chain.filters[0].plugin.describe()))

    def test_requirements_come_from_options_alone(self):
        cls = self.plugin_class()
        requirements = cls.requirements_for(cls.options_model.model_validate(self.options))
        assert all(r.module or r.env for r in requirements)


def _row(data: dict[str, Any], default_id: str) -> Record:
    record = Record.from_dict(dict(data))
    record.id = record.id or default_id
    return record


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
        options = type(make_trainer()).options_model.model_validate(train_options)
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


def _power_and_threads(base: int, exponent: int) -> tuple[int, int | None, int]:
    """A worker's job for :meth:`ExecutorConformance.test_map_calls_gives_each_calls_result_in_call_order`."""
    import os

    from factory.executors import analysis_threads

    return base ** exponent, analysis_threads(), os.getpid()


class ExecutorConformance(IdentityContract):
    """What every executor plugin must do: the same answers as this process, in input order.

    Provide ``plugin`` and ``options``; an executor's options never change outputs, so list them all in
    ``runtime_changes``. Override :meth:`executor` when building one needs a cluster (a fixture).
    """

    texts_count: ClassVar[int] = 2500  # above factory.executors.PARALLEL_MIN_TEXTS: the parallel path

    def executor(self) -> Any:
        cls = self.plugin_class()
        return cls(cls.options_model.model_validate(self.options))

    def test_every_option_is_runtime(self):
        model = self.plugin_class().options_model
        assert set(model.model_fields) == runtime_fields(model), "an executor must never change outputs"

    def test_tokenize_many_gives_the_languages_tokens_in_order(self):
        from factory.default_plugins.english import English
        from factory.testing.synthetic import synthetic_instructions

        texts = synthetic_instructions(self.texts_count, seed=7)
        language = English()
        with self.executor() as executor:
            assert executor.tokenize_many(language, texts) == language.tokenize_many(texts)
            assert executor.tokenize_many(language, texts[:3]) == language.tokenize_many(texts[:3])

    def test_analyze_many_gives_every_methods_results_in_order(self):
        from factory.default_plugins.english import English
        from factory.testing.synthetic import synthetic_instructions

        texts = synthetic_instructions(self.texts_count, seed=6)
        language = English()
        methods = ("tokenize_many", "verb_objects")
        with self.executor() as executor:
            got = executor.analyze_many(language, texts, methods)
        assert list(got) == list(methods)
        assert got["tokenize_many"] == language.tokenize_many(texts)
        assert got["verb_objects"] == language.verb_objects(texts)

    def test_map_calls_gives_each_calls_result_in_call_order(self):
        import os

        calls = [(i, i % 3) for i in range(9)]
        with self.executor() as executor:
            got = executor.map_calls(_power_and_threads, calls)
        assert [value for value, _, _ in got] == [i ** (i % 3) for i in range(9)]
        # a worker process shares the machine with its peers: one analyser thread each
        # (factory.executors.enter_worker); this process keeps the library's default
        assert all(threads == (1 if pid != os.getpid() else None) for _, threads, pid in got), got

    def test_rouge_pool_decides_like_the_local_greedy_filter(self):
        from factory.default_plugins.english import English
        from factory.similarity import greedy_dedup
        from factory.testing.synthetic import synthetic_instructions

        language = English()
        tokens = language.tokenize_many(synthetic_instructions(800, seed=8, duplicate_share=0.4))
        seeds = language.tokenize_many(synthetic_instructions(20, seed=9))
        keys, seed_keys = [f"k{i}" for i in range(len(tokens))], [f"s{j}" for j in range(len(seeds))]
        expected = greedy_dedup(tokens, 0.7, against=seeds, keys=keys, against_keys=seed_keys)
        with self.executor() as executor:
            pool = executor.rouge_pool()
            pool.add_many(seeds, seed_keys)
            first = pool.greedy(tokens[:300], 0.7, keys[:300])  # two calls: the pool keeps what it kept
            assert first + pool.greedy(tokens[300:], 0.7, keys[300:]) == expected

    def test_describe_is_json_and_close_is_idempotent(self):
        executor = self.executor()
        info = executor.describe()
        assert isinstance(info.get("plugin"), str) and json.loads(json.dumps(info)) == info
        executor.close()
        executor.close()
