"""Build a :class:`~factory.teaching.TeacherClient` from a plain teacher section.

The recipe's top-level ``teacher`` is built by the engine from the run
context; a plugin that needs its own teacher (the ``llm`` translator's
``translate.teacher``) has only a mapping. This does the same split for it:
core keys (:class:`~factory.teaching.TeacherSettings`: concurrency, limits,
retries, price) go to the client, the rest is validated against the teacher
plugin's ``options_model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import pydantic

from factory.costs import Budget, Usage
from factory.errors import UserError


#: (location inside the section, message, True when it points at a value rather than a key)
Problem = tuple[tuple, str, bool]


def split_teacher_section(section: Mapping[str, Any]) -> tuple[type, dict[str, Any], dict[str, Any], list[Problem]]:
    """(teacher class, TeacherSettings data, validated plugin options, problems) for one teacher section.

    Core keys (concurrency, limits, retries, price) are validated by TeacherSettings; the rest by the
    plugin's ``options_model``. The recipe loader turns the problems into file:line:col lines.
    """
    from factory.plugins import get_registry
    from factory.teaching import TeacherSettings

    problems: list[Problem] = []
    data = dict(section)
    name = data.pop("plugin", None)
    if not isinstance(name, str) or not name:
        return object, {}, {}, [(("plugin",), "name the teacher plugin (e.g. openai)", False)]
    registry = get_registry()
    if not registry.has("teacher", name):
        installed = ", ".join(registry.names("teacher")) or "none"
        return object, {}, {}, [(("plugin",), f"no teacher plugin named '{name}' is installed (installed: {installed})", True)]
    cls = registry.get("teacher", name).obj
    core_keys = set(TeacherSettings.model_fields)
    core = {k: v for k, v in data.items() if k in core_keys}
    options = {k: v for k, v in data.items() if k not in core_keys}
    for model, values, is_core in ((TeacherSettings, core, True), (getattr(cls, "options_model", None), options, False)):
        if model is None:
            continue
        try:
            validated = model.model_validate(values).model_dump()
        except pydantic.ValidationError as exc:
            for e in exc.errors():
                known = e["type"] in ("extra_forbidden", "missing")
                message = {"extra_forbidden": "unknown key", "missing": "required field is missing"}.get(e["type"], e["msg"])
                problems.append((tuple(e["loc"]), message.removeprefix("Value error, "), not known))
            continue
        if is_core:
            core = validated
        else:
            options = validated
    return cls, core, options, problems


def _split(section: Mapping[str, Any], where: str) -> tuple[type, dict[str, Any], dict[str, Any], list[str]]:
    cls, core, options, problems = split_teacher_section(section)
    return cls, core, options, [f"{where}.{'.'.join(str(p) for p in loc)}: {message}" for loc, message, _ in problems]


def teacher_section_problems(section: Mapping[str, Any], where: str = "teacher") -> list[str]:
    """One message per problem in a teacher section (empty when it is valid)."""
    return _split(section, where)[3]


def build_teacher(section: Mapping[str, Any], where: str = "teacher") -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(teacher plugin instance, TeacherSettings data, validated plugin options); UserError if invalid."""
    cls, core, options, problems = _split(section, where)
    if problems:
        raise UserError("; ".join(problems))
    return cls(**options), core, options


def build_teacher_client(
    section: Mapping[str, Any],
    *,
    usage: Usage,
    budget: Budget | None,
    cache_path: str | Path | None = None,
    where: str = "teacher",
    teacher: Any | None = None,
    report: Callable[[str], None] | None = None,
) -> Any:
    """A TeacherClient for ``section`` (``{plugin: ..., <TeacherSettings keys>, <plugin options>}``).

    ``cache_path``: SQLite response cache file, or None for no response cache.
    ``teacher``: an already built plugin instance for this section, to reuse.
    ``report``: where a teacher in batch mode shows batch states (the run's progress log).
    """
    from factory.teaching import ResponseCache, TeacherClient, TeacherSettings

    if teacher is None:
        built, core, options = build_teacher(section, where)
    else:
        built = teacher
        core, options = build_teacher_parts(section, where)
    journal = None
    if getattr(built, "batch_mode", False):
        if cache_path is None:
            raise UserError(f"{where}.mode: batch needs the run folder's response cache, which {where} does not have; "
                            "use the online mode here")
        from factory.batch_journal import BatchJournal

        journal = BatchJournal(cache_path, report)
    cache = ResponseCache(cache_path) if cache_path is not None else None
    return TeacherClient(
        built,
        TeacherSettings.model_validate(core),
        cache=cache,
        usage=usage,
        budget=budget,
        price=teacher_price(type(built), options),
        batch_journal=journal,
    )


def teacher_price(cls: type, options: Mapping[str, Any]) -> Any:
    """The teacher plugin's own price for these options (``price_for``), or free."""
    from factory.costs import TokenPrice

    price_for = getattr(cls, "price_for", None)
    if not callable(price_for):
        return TokenPrice()
    model = getattr(cls, "options_model", None)
    return price_for(model.model_validate(options) if model is not None else options)


def build_teacher_parts(section: Mapping[str, Any], where: str = "teacher") -> tuple[dict[str, Any], dict[str, Any]]:
    """(TeacherSettings data, validated plugin options) without building the plugin; UserError if invalid."""
    _, core, options, problems = _split(section, where)
    if problems:
        raise UserError("; ".join(problems))
    return core, options
