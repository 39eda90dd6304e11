"""A validated teacher section, wherever it appears in a recipe.

The recipe's top-level ``teacher``, the ``llm`` translator's
``translate.teacher`` and a judge a method asks for are all the same thing: a
mapping naming a teacher plugin, with the core's keys (:class:`TeacherSettings`:
concurrency, limits, retries, price) and the plugin's own options. A
:class:`TeacherSpec` is that mapping validated once; it knows the teacher's
identity, description, price and requirements without building it, and builds
the teacher or a full :class:`~factory.teaching.TeacherClient` when asked.

Use :data:`TeacherField` as the type of a plugin option that names a teacher::

    class MyOptions(Options):
        judge: TeacherField = Field(description="The judging teacher.")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import pydantic
from pydantic_core import core_schema

from factory.contracts import Requirement, problem_lines
from factory.costs import Budget, TokenPrice, Usage
from factory.errors import UserError

#: (location inside the section, message, True when it points at a value rather than a key)
Problem = tuple[tuple, str, bool]


class TeacherSpec:
    """One teacher section: plugin name and class, core settings and plugin options, all validated."""

    def __init__(self, name: str, cls: type, settings: Any, options: pydantic.BaseModel, raw: Mapping[str, Any]):
        self.name = name
        self.cls = cls
        self.settings = settings  # factory.teaching.TeacherSettings
        self.options = options
        self.raw = dict(raw)

    # -- parsing -----------------------------------------------------------------------------
    @classmethod
    def parse(cls, section: Any) -> tuple["TeacherSpec | None", list[Problem]]:
        """The spec, or None and one problem per bad key (the recipe loader gives them file:line:col)."""
        from factory.plugins import get_registry
        from factory.teaching import TeacherSettings

        if isinstance(section, TeacherSpec):
            return section, []
        if not isinstance(section, Mapping):
            return None, [((), "expected a mapping with a plugin key, e.g. {plugin: openai, model: ...}", True)]
        data = dict(section)
        name = data.pop("plugin", None)
        if not isinstance(name, str) or not name:
            return None, [(("plugin",), "name the teacher plugin (e.g. openai)", False)]
        registry = get_registry()
        if not registry.has("teacher", name):
            installed = ", ".join(registry.names("teacher")) or "none"
            return None, [(("plugin",), f"no teacher plugin named '{name}' is installed (installed: {installed})", True)]
        plugin_cls = registry.get("teacher", name).obj
        core_keys = set(TeacherSettings.model_fields)
        problems: list[Problem] = []
        validated = []
        for model, values in ((TeacherSettings, {k: v for k, v in data.items() if k in core_keys}),
                              (plugin_cls.options_model, {k: v for k, v in data.items() if k not in core_keys})):
            try:
                validated.append(model.model_validate(values))
            except pydantic.ValidationError as exc:
                problems.extend(problem_lines(exc))
        if problems:
            return None, problems
        return cls(name, plugin_cls, validated[0], validated[1], section), []

    @classmethod
    def from_section(cls, section: Any, where: str = "teacher") -> "TeacherSpec":
        """The spec, or a one-line UserError naming each bad key under ``where``."""
        spec, problems = cls.parse(section)
        if spec is None:
            raise UserError("; ".join(f"{_dotted(where, loc)}: {message}" for loc, message, _ in problems))
        return spec

    # -- pydantic: a TeacherSpec can be an options field -----------------------------------------
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        def validate(value: Any) -> "TeacherSpec":
            spec, problems = cls.parse(value)
            if spec is None:
                raise ValueError("; ".join(f"{_dotted('', loc) or '(section)'}: {message}" for loc, message, _ in problems))
            return spec

        return core_schema.no_info_plain_validator_function(
            validate,
            json_schema_input_schema=core_schema.dict_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda spec: spec.raw),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        from factory.schema import teacher_section_schema

        return teacher_section_schema()

    # -- what the core asks --------------------------------------------------------------------
    def factory_identity(self) -> dict[str, Any]:
        """Plugin name and the plugin's identity; core settings (limits, retries, price) are runtime."""
        return {"plugin": self.name, **self.cls.identity_for(self.options)}

    @property
    def identity(self) -> dict[str, Any]:
        return self.factory_identity()

    def provenance(self) -> Any:
        from factory.teachers import TeacherProvenance

        description = self.cls.describe_for(self.options)
        return TeacherProvenance(plugin=self.name, identity=self.identity, **description.model_dump())

    def price(self) -> TokenPrice:
        """The recipe's ``price`` when set, else the plugin's own price for these options."""
        if self.settings.price is not None:
            return TokenPrice(self.settings.price.input_per_1m, self.settings.price.output_per_1m)
        return self.cls.price_for(self.options)

    def requirements(self) -> list[Requirement]:
        return list(self.cls.requirements_for(self.options))

    def build(self) -> Any:
        return self.cls(self.options)

    def client(self, *, usage: Usage, budget: Budget | None, cache_path: str | Path | None = None,
               teacher: Any | None = None, report: Callable[[str], None] | None = None, where: str = "teacher") -> Any:
        """A TeacherClient around this teacher (``teacher``: an instance already built from this spec).

        ``cache_path``: the SQLite response cache, or None for none. ``report``: where a teacher in batch
        mode shows batch states (the run's progress log); its batch journal lives beside the cache.
        """
        from factory.teaching import ResponseCache, TeacherClient

        built = teacher if teacher is not None else self.build()
        journal = None
        if getattr(built, "batch_mode", False):
            if cache_path is None:
                raise UserError(f"{where}.mode: batch needs the run folder's response cache, which {where} does not "
                                "have; use the online mode here")
            from factory.batch_journal import BatchJournal

            journal = BatchJournal(cache_path, report)
        cache = ResponseCache(cache_path) if cache_path is not None else None
        return TeacherClient(built, self.settings, cache=cache, usage=usage, budget=budget, price=self.price(),
                             label=self.provenance().label, batch_journal=journal)


#: The type of a plugin option that names a teacher (a full teacher section).
TeacherField = TeacherSpec


def _dotted(where: str, loc: tuple) -> str:
    return ".".join(str(p) for p in (where, *loc) if str(p))


def build_teacher_client(section: Any, *, usage: Usage, budget: Budget | None, cache_path: str | Path | None = None,
                         where: str = "teacher", teacher: Any | None = None) -> Any:
    """A TeacherClient for a teacher section (a mapping or a :class:`TeacherSpec`)."""
    spec = TeacherSpec.from_section(section, where)
    return spec.client(usage=usage, budget=budget, cache_path=cache_path, teacher=teacher)
