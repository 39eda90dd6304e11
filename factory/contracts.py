"""What every plugin kind shares: validated options, identity, requirements.

A plugin class declares an ``options_model`` (pydantic, unknown keys refused).
The core validates a recipe section against it once, at load time, and builds
the plugin from that model instance (``cls(options)``); tests and scripts may
still write ``cls(key=value, ...)``, which validates the same way.

Options fields carry markers the core reads, so it never needs to know a
plugin's option names:

- :func:`runtime` marks a field that changes how fast, where or at what price a
  plugin works, never what it produces (concurrency, timeouts, the name of the
  environment variable holding a key). Runtime fields are left out of the
  plugin's :meth:`Plugin.identity_for`, hence out of the run fingerprint and of
  every cache key: changing one keeps a run resumable and its caches warm.
- :func:`path_option` marks a file path; the core resolves it against the
  recipe's folder before the plugin sees it.
- :func:`env_option` marks the *name* of an environment variable (a secret's
  home); it is runtime, and a value that looks like a secret itself is refused.

:meth:`Plugin.identity_for` is the single definition of "everything that changes
outputs"; the fingerprint and the caches both use it. Plugins override it only to
add what options cannot show (a glossary's contents, a prompt version).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from typing import Any, ClassVar, Iterable

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from factory.errors import UserError

_RUNTIME = "factory_runtime"
_PATH = "factory_path"
_ENV = "factory_env"


class Options(BaseModel):
    """Base of every options model: unknown keys are an error (a typo in a recipe is caught), and an
    :func:`env_option` must hold a variable's name, never a secret (refused without echoing it)."""

    # an error's text never repeats the input: it may be a key pasted into the wrong field
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @pydantic.field_validator("*", mode="before")
    @classmethod
    def _env_names_only(cls, value: Any, info: pydantic.ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        named = (info.field_name or "").endswith("_env")
        if field is not None and isinstance(value, str) and (named or _has_marker(field, _ENV)):
            from factory.secrets_scan import env_name_problem

            problem = env_name_problem(value)
            if problem:
                raise ValueError(problem)
        return value


def _marked(marker: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {**(extra or {}), marker: True}


def runtime(default: Any = ..., *, json_schema_extra: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """A field that never changes outputs (excluded from identity, fingerprint and cache keys)."""
    return Field(default, json_schema_extra=_marked(_RUNTIME, json_schema_extra), **kwargs)


def path_option(default: Any = None, *, runtime_only: bool = False, **kwargs: Any) -> Any:
    """A file path the core resolves against the recipe's folder (in identity unless ``runtime_only``)."""
    extra = _marked(_PATH, {_RUNTIME: True} if runtime_only else None)
    return Field(default, json_schema_extra=extra, **kwargs)


def env_option(default: Any = ..., **kwargs: Any) -> Any:
    """The name of an environment variable (never its value); runtime."""
    return Field(default, json_schema_extra={_RUNTIME: True, _ENV: True}, **kwargs)


def _has_marker(field: Any, marker: str) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get(marker))


def marked_fields(model: type[BaseModel], marker: str) -> set[str]:
    return {name for name, field in model.model_fields.items() if _has_marker(field, marker)}


def runtime_fields(model: type[BaseModel]) -> set[str]:
    return marked_fields(model, _RUNTIME)


def path_fields(model: type[BaseModel]) -> set[str]:
    return marked_fields(model, _PATH)


def env_fields(model: type[BaseModel]) -> set[str]:
    return marked_fields(model, _ENV)


def identity_of(options: BaseModel) -> dict[str, Any]:
    """Every field but the runtime ones, recursively through nested models (JSON-ready)."""
    skip = runtime_fields(type(options))
    result: dict[str, Any] = {}
    for name in type(options).model_fields:
        if name in skip:
            continue
        value = getattr(options, name)
        result[name] = jsonable(value)
    return result


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: nested options by their identity (a TeacherSpec by its own), other objects as text."""
    own = getattr(value, "factory_identity", None)
    if callable(own):  # a nested plugin section (a TeacherSpec) knows its own identity
        return own()
    if isinstance(value, BaseModel):
        return identity_of(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def identity_key(identity: Any) -> str:
    """A stable digest of an identity (canonical JSON), for cache keys."""
    blob = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- validation errors


def problem_lines(exc: pydantic.ValidationError, where: str = "") -> list[tuple[tuple, str, bool]]:
    """(location, message, points at a value) per problem: the one formatting every caller shares."""
    problems = []
    for err in exc.errors():
        kind = err["type"]
        message = {"extra_forbidden": "unknown key", "missing": "required field is missing"}.get(
            kind, str(err["msg"]).removeprefix("Value error, "))
        problems.append((tuple(err["loc"]), message, kind not in ("extra_forbidden", "missing")))
    return problems


def format_problems(exc: pydantic.ValidationError, where: str) -> str:
    """One line: ``where.field: message; where.other: message``."""
    parts = []
    for loc, message, _ in problem_lines(exc):
        dotted = ".".join(str(p) for p in (where, *loc) if str(p))
        parts.append(f"{dotted or '(section)'}: {message}")
    return "; ".join(parts)


def validate_options(model: type[BaseModel], values: Any, where: str) -> BaseModel:
    """``model`` from ``values``, or a one-line UserError naming each bad field under ``where``."""
    if isinstance(values, model):
        return values
    try:
        return model.model_validate(values if values is not None else {})
    except pydantic.ValidationError as exc:
        raise UserError(format_problems(exc, where)) from None


# ---------------------------------------------------------------- requirements


class Requirement(BaseModel):
    """Something a plugin or stage needs before anything is paid: a module or an environment variable."""

    model_config = ConfigDict(frozen=True)

    module: str | None = None
    env: str | None = None
    install: str = ""  # how to get it: "pip install ...", or what to set
    why: str = ""  # what needs it

    def problem(self) -> str | None:
        """None when met; otherwise one line naming what is missing and how to fix it."""
        if self.module and not _module_available(self.module):
            fix = self.install or f"pip install {self.module}"
            return f"{self.why or 'this run'} needs the Python package '{self.module}', which is not installed: {fix}"
        if self.env and not os.environ.get(self.env, "").strip():
            fix = self.install or f"export {self.env}=..."
            return f"{self.why or 'this run'} needs the environment variable {self.env}, which is not set: {fix}"
        return None


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def unmet(requirements: Iterable[Requirement], *, modules: bool = True, env: bool = True) -> list[str]:
    """One line per unmet requirement (only packages, or only environment variables, when asked), each once."""
    chosen = [r for r in requirements if (modules and r.module) or (env and r.env)]
    return list(dict.fromkeys(p for p in (r.problem() for r in chosen) if p))


# ---------------------------------------------------------------- the plugin base


class Plugin:
    """Base class of every plugin kind's contract (teacher, translator, method, trainer, publisher, filter...)."""

    #: The kind's user-facing name; set by each kind's base class.
    kind: ClassVar[str] = ""
    options_model: ClassVar[type[BaseModel]] = Options

    def __init__(self, options: BaseModel | None = None, /, **values: Any) -> None:
        if options is not None and values:
            raise TypeError("pass an options model instance or keyword options, not both")
        self.options = validate_options(self.options_model, options if options is not None else values,
                                        self.kind or type(self).__name__)
        self.setup()

    def setup(self) -> None:
        """Open clients, load models: runs once the options are validated (override as needed)."""

    # -- what the core asks of a plugin class, from options alone (nothing built) ------------
    @classmethod
    def identity_for(cls, options: BaseModel) -> dict[str, Any]:
        """Everything in these options that changes outputs; used by the fingerprint and every cache key."""
        return identity_of(options)

    @classmethod
    def requirements_for(cls, options: BaseModel) -> list[Requirement]:
        """Modules and environment variables needed before anything is paid (checked by validate and run)."""
        return []

    # -- conveniences on a built plugin ---------------------------------------------------------
    @property
    def identity(self) -> dict[str, Any]:
        return type(self).identity_for(self.options)

    @property
    def identity_key(self) -> str:
        return identity_key(self.identity)
