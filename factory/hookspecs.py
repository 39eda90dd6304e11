"""Hook specifications: one hook per plugin kind.

Every hook receives a ``register`` callback instead of returning values, so
the registry knows which distribution registered each plugin::

    from factory import hookimpl

    @hookimpl
    def register_languages(register):
        register("xx", MyLanguage)

``register(name, obj)`` takes the plugin's user-facing name and the object
that implements it (usually a class built from the recipe's options).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("factory")
hookimpl = pluggy.HookimplMarker("factory")

#: kind name shown to users -> hook name
KIND_HOOKS = {
    "teacher": "register_teachers",
    "translator": "register_translators",
    "language": "register_languages",
    "trainer": "register_trainers",
    "publisher": "register_publishers",
    "method": "register_methods",
    "filter": "register_filters",
    "executor": "register_executors",
}


@hookspec
def register_teachers(register):
    """Register teacher classes (models that generate text), e.g. ``register("openai", OpenAITeacher)``."""


@hookspec
def register_translators(register):
    """Register translator classes (machine translation engines), e.g. ``register("deepl", DeepLTranslator)``."""


@hookspec
def register_languages(register):
    """Register :class:`factory.languages.Language` subclasses under their language code."""


@hookspec
def register_trainers(register):
    """Register trainer classes that finetune a backbone on a dataset."""


@hookspec
def register_publishers(register):
    """Register publisher classes that upload an exported dataset."""


@hookspec
def register_methods(register):
    """Register generation methods (such as ``self-instruct``)."""


@hookspec
def register_filters(register):
    """Register filter classes (:class:`factory.filtering.Filter` subclasses), e.g. ``register("near_duplicate", ...)``."""


@hookspec
def register_executors(register):
    """Register executor classes (:class:`factory.executors.Executor` subclasses: where CPU-bound work runs), e.g. ``register("ray", RayExecutor)``."""
