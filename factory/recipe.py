"""The recipe: a typed, validated YAML description of one dataset build.

Validation happens in two passes. The core schema below checks every core
field (unknown keys are errors). Then each plugin section (``teacher``,
``translate``, ``method``, ``publish``, ``train``) is checked against the
named plugin's own ``options_model``, so plugin options get the same
file:line:col errors as core fields.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from factory.contracts import problem_lines, runtime
from factory.errors import RecipeError, UserError
from factory.yamlpos import PositionedYAML, load_yaml


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginSection(BaseModel):
    """A section handled by a plugin: ``plugin`` names it, other keys are its options."""

    model_config = ConfigDict(extra="allow")

    plugin: str = Field(description="Name of the plugin that handles this section (see `factory plugins`).")

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MethodSection(PluginSection):
    plugin: str = Field("self-instruct", description="Generation method plugin.")
    seeds: str | None = runtime(None, description="Seed tasks (seed_tasks.jsonl or Alpaca JSON/JSONL); default: the language's seed set. The file's contents (not its path) are part of the run's identity.")
    target: int = runtime(100, ge=1, description="Number of kept (accepted) records to produce (raise it and rerun to continue).")


class SourceSection(Strict):
    path: str | None = runtime(None, description="Local file of records (Alpaca, messages, ShareGPT, TRL rows or seed tasks); its contents (not its path) are part of the run's identity.")
    hub_dataset: str | None = Field(None, description="Hugging Face dataset id to load when online (e.g. tatsu-lab/alpaca).")
    split: str = Field("train", description="Split of hub_dataset.")
    format: str = Field("auto", description="How the file is read: auto (each row's format from its keys), a row "
                        "format (messages, sharegpt, alpaca, trl-preference, trl-unpaired), or a whole-file format "
                        "(see factory.formats.source_format_names).")
    limit: int | None = Field(None, ge=1, description="Use only the first N records.")

    @model_validator(mode="after")
    def _one_source(self) -> "SourceSection":
        if not self.path and not self.hub_dataset:
            raise ValueError("give either path or hub_dataset")
        return self


class SourceItem(SourceSection):
    """One source of a mixture (``sources:``, Koala's mix of ShareGPT, HC3, Alpaca ...)."""

    name: str | None = Field(None, description="Name kept in each record's meta.source_name; default: the file's "
                             "stem or the dataset id.")
    weight: float = Field(1.0, gt=0, le=1, description="Share of this source's records used (after limit), a "
                          "seeded sample: 0.25 keeps a quarter. Weights below 1 down-sample a large source so a "
                          "mixture keeps its proportions; a record is never repeated (duplicates would be dropped).")


class ConversationsSection(Strict):
    """Cleaning of multi-turn sources (see factory.conversations for each step and its reason code)."""

    html_to_markdown: bool = Field(True, description="Convert HTML in turns to Markdown (code blocks become "
                                   "``` fences with their language).")
    same_role: Literal["merge", "reject"] = Field("merge", description="Consecutive turns of one role: merge "
                                                  "them (blank line between) or reject the conversation.")
    exact_duplicates: bool = Field(True, description="Drop a conversation identical to an earlier one.")
    max_tokens: int | None = Field(None, ge=1, description="Split longer conversations at turn boundaries into "
                                   "parts of at most this many tokens, each starting with a user turn.")
    tokenizer: str | None = Field(None, description="Tokenizer (Hugging Face name or folder) counting max_tokens; "
                                  "default: the language plugin's length measure.")


class TeacherSection(PluginSection):
    """The teacher model; core keys (concurrency, limits, retries, price) plus the plugin's options."""


class TranslateSection(PluginSection):
    source_lang: str = Field("en", description="Language code of the source text.")
    target_lang: str | None = Field(None, description="Language code to translate into; default: the recipe's language.")
    fields: list[Literal["instruction", "input", "output", "turns"]] = Field(
        default_factory=lambda: ["instruction", "input", "output"], description="Record fields to translate; "
        "`turns`: every turn of a conversation, one by one (KoVicuna), instead of the Alpaca fields.")
    regenerate_output: bool = Field(False, description="Translate instruction/input, then ask the teacher for the output in the target language (KoAlpaca v1.0).")
    max_attempts: int = runtime(5, ge=1, description="Attempts per request on retryable errors (429, 5xx, timeouts).")
    backoff_initial_s: float = runtime(1.0, ge=0, description="First retry delay (seconds), doubled per attempt, with jitter.")
    price_per_million_chars: float | None = runtime(None, ge=0, description="USD per 1M billed characters; default: the translator plugin's own price.")


class SimilarityFilter(Strict):
    enabled: bool = Field(True, description="Drop records whose ROUGE-L F against the pool exceeds threshold.")
    threshold: float = Field(0.7, ge=0, le=1, description="ROUGE-L F-measure above which a record is a near-duplicate (Alpaca: 0.7).")
    field: Literal["instruction", "input", "output"] = Field("instruction", description="Field compared.")
    against_seeds: bool = Field(True, description="Also compare against the seed tasks.")


class FiltersSection(Strict):
    similarity: SimilarityFilter = Field(default_factory=SimilarityFilter, description="Near-duplicate filter.")
    min_instruction_words: int | None = Field(None, ge=0, description="Drop instructions shorter than this (language measure); default: the language's.")
    max_instruction_words: int | None = Field(None, ge=1, description="Drop instructions longer than this; default: the language's.")
    blacklist: bool = Field(True, description="Drop tasks a text model cannot do (language blacklist).")
    program_tasks: bool = Field(True, description="Drop 'write a program' tasks.")
    punctuation_start: bool = Field(True, description="Drop instructions that start with punctuation.")
    script_check: bool = Field(True, description="Drop instructions not written in the recipe's language.")
    empty_output: bool = Field(True, description="Drop records with an empty output.")
    output_equals_input: bool = Field(True, description="Drop records whose output repeats the input.")
    translation_qa: bool = Field(True, description="Drop translated records whose instruction or input came back "
                                 "from the engine unchanged (the translation_qa filter, without its language check).")
    copied_demonstration: bool = Field(True, description="Drop records whose output copies a demonstration the "
                                       "prompt showed (ROUGE-L > 0.7; the copied_demonstration filter).")


class ExportSection(Strict):
    enabled: bool = Field(True, description="Export accepted records as a Hugging Face dataset under data/.")
    test_size: float = Field(0.0, ge=0, lt=1, description="Share of records in a seeded test split.")
    seed: int = Field(42, description="Seed of the train/test split.")
    keep_meta: bool = Field(True, description="Keep the meta column (provenance) in the exported dataset.")
    formats: list[Literal["parquet", "jsonl"]] = Field(default_factory=lambda: ["parquet", "jsonl"], description="Files written.")
    views: list[str] = Field(default_factory=list, description="Extra renderings for other tools, written under "
                             "data/views/<view>/ (see factory.export_views.view_names).")
    license: str | None = Field(None, description="License in the dataset card (default: other; see the teacher's terms).")


class PublishSection(PluginSection):
    plugin: str = Field("hub", description="Publisher plugin.")
    repo: str = Field(description="Target repository, ORG/NAME.")
    private: bool = Field(True, description="Create the repository private.")
    revision: str | None = Field(None, description="Branch to push to.")


class TrainSection(PluginSection):
    plugin: str = Field("peft", description="Trainer plugin.")
    data: str | None = Field(None, description="Alpaca JSON/JSONL to train on; default: this run's dataset.")
    output_dir: str | None = Field(None, description="Where weights go; default: RUN/train/.")


class ExecutorSection(PluginSection):
    """Where CPU-bound work runs (see factory.executors); never part of the run's identity."""

    plugin: str = Field("local", description="Executor plugin: local (this machine) or ray (a Ray cluster).")


class Recipe(Strict):
    name: str = Field(description="Recipe name; the default run folder is runs/<name>/.")
    description: str = Field("", description="Free text shown in the dataset card.")
    language: str = Field("en", description="Language plugin code of the produced data (en, ko, ...).")
    language_options: dict[str, Any] = Field(default_factory=dict, description="Options of the language plugin (e.g. ko: drop_particles, drop_endings, drop_symbols).")
    seed: int = Field(42, description="Seed of every random choice, so a recipe reproduces its prompts.")
    budget_usd: float | None = Field(None, ge=0, description="Stop before spending more than this (teacher + translator).")
    batch_size: int = Field(8, ge=1, description="Teacher requests (or source records / 8) per journal batch; a batch is the unit of resume.")
    method: MethodSection | None = Field(None, description="Generate new records (self-instruct).")
    source: SourceSection | None = Field(None, description="Start from existing records (for translation recipes).")
    sources: list[SourceItem] | None = Field(None, min_length=1, description="Start from several sources mixed "
                                             "in order (each with its format, limit, weight and name).")
    conversations: ConversationsSection | None = Field(None, description="Clean multi-turn source conversations "
                                                       "(HTML to Markdown, turn order, duplicates, splitting).")
    teacher: TeacherSection | None = Field(None, description="Teacher model for generation and output regeneration.")
    translate: TranslateSection | None = Field(None, description="Translate records from source_lang to the recipe language.")
    filters: Annotated[Union[Annotated[FiltersSection, Tag("mapping")], Annotated[list[str | dict[str, Any]], Tag("list")]],
                       Discriminator(lambda value: "list" if isinstance(value, list) else "mapping")] = Field(
        default_factory=FiltersSection,
        description="Filters, in order: a list of filter plugins (`- near_duplicate: {threshold: 0.7}`, "
        "`- blacklist`, `- {plugin: NAME, ...}`; see `factory plugins`), or the Alpaca-era mapping "
        "(similarity, min_instruction_words, blacklist: true ...), which stands for the same built-in filters.")
    export: ExportSection = Field(default_factory=ExportSection, description="Dataset export.")
    publish: PublishSection | None = Field(None, description="Publish the exported dataset.")
    train: TrainSection | None = Field(None, description="Finetune a backbone on the dataset.")
    executor: ExecutorSection | None = Field(None, description="Where CPU-bound work runs: `plugin: local` "
                                             "(default; `workers`) or `plugin: ray` (`address` of an existing "
                                             "cluster, or `num_cpus` of a local one). `--executor` overrides it.")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
            raise ValueError("use letters, digits, '.', '_' and '-' only")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Recipe":
        if self.source and self.sources:
            raise ValueError("give either source (one) or sources (a list), not both")
        if self.method and self.has_source:
            raise ValueError("a recipe either generates (method) or starts from a source (source), not both")
        if not self.method and not self.has_source and not self.train:
            raise ValueError("a recipe needs method (generate), source (translate/filter) or train")
        if self.method and not self.teacher:
            raise ValueError("method needs a teacher section")
        if self.translate and not self.has_source:
            raise ValueError("translate needs a source section")
        if self.conversations and not self.has_source:
            raise ValueError("conversations cleans source records: it needs source or sources")
        if self.translate and "turns" in self.translate.fields and (len(set(self.translate.fields)) > 1
                                                                     or self.translate.regenerate_output):
            raise ValueError("translate.fields: turns translates whole conversations: use it alone, without "
                             "regenerate_output")
        if self.translate and self.translate.regenerate_output and not self.teacher:
            raise ValueError("translate.regenerate_output needs a teacher section")
        return self

    @property
    def has_source(self) -> bool:
        return bool(self.source or self.sources)

    def source_list(self) -> list[SourceSection]:
        """Every source, in order (``source`` is a list of one)."""
        return list(self.sources or ([self.source] if self.source else []))

    @property
    def is_data_recipe(self) -> bool:
        return bool(self.method or self.has_source)


PLUGIN_SECTIONS = {"method": "method", "teacher": "teacher", "translate": "translator", "publish": "publisher",
                   "train": "trainer", "executor": "executor"}


def _format_loc(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(recipe)"


def _problem(source_name: str, doc: PositionedYAML | None, loc: tuple, message: str, overrides: dict[str, Any],
             at_value: bool = False) -> str:
    dotted = _format_loc(loc)
    for key in overrides:
        if dotted == key or dotted.startswith(key + "."):
            return f"--set {key}: {dotted}: {message}"
    for key in overrides:  # a key that --set added (``--set foo.bar=1``: ``foo`` is unknown), not in the file
        if key.startswith(dotted + ".") and not _in_document(doc, loc):
            return f"--set {key}: {dotted}: {message}"
    line, col = doc.position(loc, value=at_value) if doc else (1, 1)
    return f"{source_name}:{line}:{col}: {dotted}: {message}"


def _in_document(doc: PositionedYAML | None, loc: tuple) -> bool:
    """Whether the recipe file itself has the key at ``loc`` (rather than an override adding it)."""
    node: Any = doc.data if doc else None
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a copy of ``data``."""
    result = copy.deepcopy(data) if isinstance(data, dict) else {}
    for item in overrides:
        if "=" not in item:
            raise RecipeError([f"--set {item}: expected KEY=VALUE, e.g. --set teacher.model=gpt-4o-mini"])
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise RecipeError([f"--set {item}: empty key"])
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        target: Any = result
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            if isinstance(target, list):  # an item of a list section: sources.0.path
                if not part.isdigit() or int(part) >= len(target):
                    raise RecipeError([f"--set {item}: {'.'.join(parts[:position]) or parts[0]} has no item {part} "
                                       f"(it has {len(target)})"])
                index = int(part)
                if last:
                    target[index] = value
                elif not isinstance(target[index], (dict, list)):
                    target[index] = {}
                target = target[index]
                continue
            if last:
                target[part] = value
            else:
                if not isinstance(target.get(part), (dict, list)):
                    target[part] = {}
                target = target[part]
    return result


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    return {item.split("=", 1)[0].strip(): item.split("=", 1)[1] if "=" in item else "" for item in overrides}


@dataclass
class PluginConfig:
    """One plugin a recipe section names, with its options validated once (a model instance)."""

    section: str
    kind: str
    name: str
    cls: type
    options: BaseModel

    @property
    def identity(self) -> dict[str, Any]:
        """Plugin name and everything in its options that changes outputs (runtime fields left out)."""
        return {"plugin": self.name, **self.cls.identity_for(self.options)}

    def requirements(self) -> list[Any]:
        return list(self.cls.requirements_for(self.options))

    def build(self) -> Any:
        return self.cls(self.options)


class LoadedRecipe:
    """A validated recipe, where it came from, and its plugins with validated options."""

    def __init__(self, recipe: Recipe, path: Path, data: dict[str, Any], plugins: dict[str, Any]):
        self.recipe = recipe
        self.path = path
        self.data = data  # the resolved raw mapping (after --set), secret-free by design
        #: section -> PluginConfig (``teacher``: a TeacherSpec); ``language`` is always there for data recipes
        self.plugins = plugins

    def plugin(self, section: str) -> Any:
        """The section's plugin config; a clear error when the recipe has no such section."""
        if section not in self.plugins:
            raise UserError(f"{self.path}: this recipe has no {section} section")
        return self.plugins[section]

    @property
    def teacher(self) -> Any:
        """The recipe's TeacherSpec, or None."""
        return self.plugins.get("teacher")


SECTION_MODELS = {"method": MethodSection, "teacher": TeacherSection, "translate": TranslateSection,
                  "publish": PublishSection, "train": TrainSection, "executor": ExecutorSection}


def _resolve_paths(options: BaseModel, recipe_path: Path, language: str | None) -> tuple[BaseModel, list[tuple]]:
    """Path options found the way every recipe path is (:mod:`factory.paths`); (options, problems)."""
    from factory.contracts import path_fields
    from factory.paths import find_input, not_found_message, recipe_bases

    updates: dict[str, Any] = {}
    problems: list[tuple] = []
    for name in path_fields(type(options)):
        value = getattr(options, name)
        many = isinstance(value, list)  # a list of paths (benchmark files): each found the same way
        resolved = []
        for index, item in enumerate(value if many else [value]):
            if not isinstance(item, str) or not item:
                resolved.append(item)
                continue
            found, tried = find_input(item, recipe_bases(recipe_path), language)
            if found is None:
                problems.append(((name, index) if many else (name,), not_found_message(item, tried), True))
                resolved.append(item)
            else:
                resolved.append(str(found.path))
        if resolved != (value if many else [value]):
            updates[name] = resolved if many else resolved[0]
    return (options.model_copy(update=updates) if updates else options), problems


def _validate_plugin_sections(data: dict[str, Any], problem, recipe_path: Path) -> tuple[dict[str, Any], list[str]]:
    """Validate each plugin section's extra keys against the named plugin's options model, once (on the
    raw data, so this runs even when the core schema found problems elsewhere)."""
    from factory.plugins import get_registry
    from factory.teacher_factory import TeacherSpec

    registry = get_registry()
    plugins: dict[str, Any] = {}
    problems: list[str] = []
    language = data.get("language", Recipe.model_fields["language"].default)
    language = language if isinstance(language, str) else None

    def paths_of(options: BaseModel, loc: tuple) -> BaseModel:
        options, missing = _resolve_paths(options, recipe_path, language)
        problems.extend(problem(loc + where, message, at_value) for where, message, at_value in missing)
        return options

    def validated(section: str, kind: str, name: str, values: dict[str, Any], loc: tuple,
                  name_at: tuple) -> PluginConfig | None:
        """The plugin's config, or None after recording one located problem per bad key."""
        if not registry.has(kind, name):
            installed = ", ".join(registry.names(kind)) or "none"
            problems.append(problem(name_at, f"no {kind} plugin named '{name}' is installed (installed: {installed})", True))
            return None
        cls = registry.get(kind, name).obj
        try:
            options = cls.options_model.model_validate(values)
        except ValidationError as exc:
            problems.extend(problem(loc + where, message, at_value) for where, message, at_value in problem_lines(exc))
            return None
        return PluginConfig(section, kind, name, cls, paths_of(options, loc))

    for section, kind in PLUGIN_SECTIONS.items():
        raw = data.get(section)
        if not isinstance(raw, dict):
            continue
        section_model = SECTION_MODELS[section]
        name = raw.get("plugin", section_model.model_fields["plugin"].default)
        if not isinstance(name, str) or not name:
            continue  # the core schema reports it
        if section == "teacher":
            spec, teacher_problems = TeacherSpec.parse(raw)
            problems.extend(problem((section,) + loc, message, at_value) for loc, message, at_value in teacher_problems)
            if spec is not None:
                spec.options = paths_of(spec.options, (section,))
                plugins[section] = spec
            continue
        values = {k: v for k, v in raw.items() if k not in section_model.model_fields}
        config = validated(section, kind, name, values, (section,), (section, "plugin"))
        if config is not None:
            plugins[section] = config
    raw_filters = data.get("filters", {})
    if any(k in data for k in ("method", "source", "sources")) and isinstance(raw_filters, (dict, list)):
        plugins["filters"] = _validate_filters(
            raw_filters, lambda name, values, loc: validated("filters", "filter", name, values, loc, loc))
    if any(k in data for k in ("method", "source", "sources", "train")) and language:
        options = data.get("language_options")
        config = validated("language", "language", language, options if isinstance(options, dict) else {},
                           ("language_options",), ("language",))
        if config is not None:
            plugins["language"] = config
    return plugins, problems


def _untagged(loc: tuple) -> tuple:
    """A location without the union tag pydantic puts in it (``filters.mapping.similarity`` -> ``filters.similarity``)."""
    if len(loc) > 1 and loc[0] == "filters" and loc[1] in ("mapping", "list"):
        return loc[:1] + loc[2:]
    return loc


def _validate_filters(raw: Any, validate_filter) -> list[Any]:
    """The recipe's filters as validated plugin configs, in order (the Alpaca-era mapping stands for a list)."""
    from factory.filtering import legacy_filters

    if isinstance(raw, dict):
        try:
            section = FiltersSection.model_validate(raw)
        except ValidationError:
            return []  # the core schema reports it
        return [c for c in (validate_filter(name, options, ("filters",)) for name, options in legacy_filters(section)) if c]
    configs = []
    for index, item in enumerate(raw):
        loc: tuple = ("filters", index)
        if isinstance(item, str):
            name, options = item, {}
        elif isinstance(item, dict) and "plugin" in item:
            name, options = item["plugin"], {k: v for k, v in item.items() if k != "plugin"}
        elif isinstance(item, dict) and len(item) == 1:
            name, value = next(iter(item.items()))
            options = value if isinstance(value, dict) else {}
            loc = loc + (name,)
            if value is not None and not isinstance(value, dict):
                continue  # reported by the core schema below
        else:
            continue
        if not isinstance(name, str):
            continue
        config = validate_filter(name, options, loc)
        if config is not None:
            configs.append(config)
    return configs


def load_recipe(path: str | Path, overrides: list[str] | None = None, check_plugins: bool = True) -> LoadedRecipe:
    """Load, override and validate a recipe; every problem is one ``file:line:col: field: message`` line."""
    path = Path(path)
    overrides = overrides or []
    doc = load_yaml(path)
    source_name = str(path)
    if doc.data is None:
        raise RecipeError([f"{source_name}:1:1: (recipe): the recipe is empty"])
    if not isinstance(doc.data, dict):
        raise RecipeError([f"{source_name}:1:1: (recipe): a recipe is a mapping of keys to values"])
    data = apply_overrides(doc.data, overrides)
    override_map = parse_overrides(overrides)

    def problem(loc: tuple, message: str, at_value: bool = False) -> str:
        return _problem(source_name, doc, loc, message, override_map, at_value)

    problems: list[str] = []
    recipe = None
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        problems.extend(problem(_untagged(loc), message, at_value) for loc, message, at_value in problem_lines(exc))
    plugins: dict[str, Any] = {}
    if check_plugins:
        plugins, plugin_problems = _validate_plugin_sections(data, problem, path)
        problems.extend(plugin_problems)
        if recipe is not None:  # input files, found the way the stages find them (factory.paths)
            from factory.paths import recipe_input_problems

            method = plugins.get("method")
            problems.extend(recipe_input_problems(recipe, path, problem,
                                                  needs_seeds=method.cls.needs_seeds if method else True))
        if recipe is not None:  # input files, found the way the stages find them (factory.paths)
            from factory.paths import recipe_input_problems

            problems.extend(recipe_input_problems(recipe, path, problem))
    if problems or recipe is None:
        raise RecipeError(_sorted_by_position(problems))
    return LoadedRecipe(recipe, path, data, plugins)


def _sorted_by_position(problems: list[str]) -> list[str]:
    def key(line: str):
        match = re.match(r".*?:(\d+):(\d+): ", line)
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)

    return sorted(dict.fromkeys(problems), key=key)


def recipe_json_schema() -> dict[str, Any]:
    """JSON schema of recipes, composed from the installed plugins (see :mod:`factory.schema`)."""
    from factory.schema import recipe_json_schema as composed

    return composed()
