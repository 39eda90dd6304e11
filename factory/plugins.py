"""Plugin manager and registry.

Built-in defaults (``factory.default_plugins``) register through the same
hooks as entry-point plugins. Environment variables:

- ``FACTORY_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry-point plugins.
- ``FACTORY_PLUGINS=dist-a,dist-b``: load only these entry-point distributions
  (e.g. ``koalpaca-factory-ko,koalpaca-factory-openai``; the core's defaults always load).
- ``FACTORY_PLUGIN_MODULES=pkg.mod,other.mod``: also load these modules as plugins (not installed
  as distributions: a plugin under development, or a test's fake teacher).
- ``FACTORY_DEBUG=1``: a plugin that fails to import shows its whole traceback.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from factory import __version__, hookspecs
from factory.errors import PluginError
from koalpaca_factory.guard import DISTRIBUTION

ENTRY_POINT_GROUP = "factory"
DISABLE_AUTOLOAD_ENV = "FACTORY_DISABLE_PLUGIN_AUTOLOAD"
ALLOW_LIST_ENV = "FACTORY_PLUGINS"
MODULES_ENV = "FACTORY_PLUGIN_MODULES"
DEBUG_ENV = "FACTORY_DEBUG"
CORE_DISTRIBUTION = DISTRIBUTION  # koalpaca-factory: the core distribution (import package: factory)

DEFAULT_PLUGINS = (
    "factory.default_plugins.english",
    "factory.default_plugins.self_instruct",
    "factory.default_plugins.llm_translator",
    "factory.default_plugins.filters",
    "factory.default_plugins.copy_filter",
    "factory.default_plugins.decontaminate_filter",
    "factory.default_plugins.judge_filter",
    "factory.default_plugins.translation_qa",
    "factory.default_plugins.evol_instruct",
    "factory.default_plugins.self_instruct_original",
    "factory.default_plugins.self_chat",
    "factory.default_plugins.distill",
    "factory.default_plugins.ai_feedback",
    "factory.default_plugins.pairwise_judge",
    "factory.default_plugins.local_executor",
    "factory.default_plugins.ray_executor",
)


@dataclass(frozen=True)
class PluginEntry:
    name: str
    kind: str
    distribution: str
    version: str
    obj: Any

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "distribution": self.distribution, "version": self.version}


class Registry:
    """Every registered plugin, by kind and name, with the distribution that registered it."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], PluginEntry] = {}

    def add(self, entry: PluginEntry) -> None:
        key = (entry.kind, entry.name)
        if key in self._entries:
            other = self._entries[key]
            raise PluginError(
                f"{entry.kind} plugin '{entry.name}' is registered twice: by {other.distribution} "
                f"and by {entry.distribution}; uninstall one or limit loading with {ALLOW_LIST_ENV}"
            )
        self._entries[key] = entry

    def entries(self, kind: str | None = None) -> list[PluginEntry]:
        found = [e for e in self._entries.values() if kind is None or e.kind == kind]
        return sorted(found, key=lambda e: (list(hookspecs.KIND_HOOKS).index(e.kind), e.name))

    def names(self, kind: str) -> list[str]:
        return [e.name for e in self.entries(kind)]

    def get(self, kind: str, name: str) -> PluginEntry:
        try:
            return self._entries[(kind, name)]
        except KeyError:
            installed = ", ".join(self.names(kind)) or "none"
            raise PluginError(f"no {kind} plugin named '{name}' is installed (installed: {installed})") from None

    def has(self, kind: str, name: str) -> bool:
        return (kind, name) in self._entries


#: id(plugin module) -> (distribution name, version) of entry-point plugins
_DIST_INFO: dict[int, tuple[str, str]] = {}


def _allowed_distributions() -> set[str] | None:
    raw = os.environ.get(ALLOW_LIST_ENV)
    if raw is None:
        return None
    return {part.strip().lower().replace("_", "-") for part in raw.split(",") if part.strip()}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    if os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip() not in ("", "0", "false"):
        return
    allowed = _allowed_distributions()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        dist_name = (dist.metadata["Name"] if dist else ep.module).lower().replace("_", "-")
        if allowed is not None and dist_name not in allowed:
            continue
        plugin_name = f"{dist_name}:{ep.name}"  # two distributions may use the same entry-point name
        if pm.get_plugin(plugin_name) is not None or pm.is_blocked(plugin_name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the CLI down silently
            _raise_load_error(f"plugin entry point '{ep.name}' ({dist_name}) failed to load: {exc}", exc)
        if pm.is_registered(plugin):
            continue
        pm.register(plugin, name=plugin_name)
        _DIST_INFO[id(plugin)] = (dist.metadata["Name"] if dist else dist_name, dist.version if dist else "")


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0", "false")


def _raise_load_error(message: str, exc: BaseException) -> None:
    """One line, unless FACTORY_DEBUG asks for the plugin's own traceback (kept as the cause)."""
    if debug_enabled():
        raise PluginError(message) from exc
    raise PluginError(message + f" (set {DEBUG_ENV}=1 or use -v for the traceback)") from None


def _load_modules(pm: pluggy.PluginManager) -> None:
    for module_name in (m.strip() for m in os.environ.get(MODULES_ENV, "").split(",")):
        if not module_name or pm.get_plugin(module_name) is not None:
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - the user named it: say which one failed and why
            _raise_load_error(f"{MODULES_ENV}: plugin module '{module_name}' failed to load: {exc}", exc)
        pm.register(module, name=module_name)


def build_plugin_manager(extra: list[Any] | None = None) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("factory")
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    _load_entry_points(pm)
    _load_modules(pm)
    for plugin in extra or []:
        pm.register(plugin)
    try:
        pm.check_pending()  # a misspelt hook name (register_teacher) is an error, not silence
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin defines a hook factory does not know: {exc}; the hooks are "
                          f"{', '.join(hookspecs.KIND_HOOKS.values())}") from None
    return pm


def build_registry(pm: pluggy.PluginManager) -> Registry:
    registry = Registry()
    for kind, hook_name in hookspecs.KIND_HOOKS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):  # registration order
            dist_name, version = _DIST_INFO.get(id(impl.plugin), (CORE_DISTRIBUTION, __version__))

            def register(name: str, obj: Any, _kind: str = kind, _d: str = dist_name, _v: str = version) -> None:
                registry.add(PluginEntry(name=name, kind=_kind, distribution=_d, version=_v, obj=obj))

            impl.function(register=register)
    return registry


_REGISTRY: Registry | None = None


#: plugin objects registered in-process (tests, notebooks) on top of the installed ones
_EXTRA: list[Any] = []


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, built on first use (never at import time)."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        _REGISTRY = build_registry(build_plugin_manager(_EXTRA))
    return _REGISTRY


def register_in_process(plugin: Any) -> None:
    """Add a plugin (a module or object with hookimpls) to this process's registry."""
    if plugin not in _EXTRA:
        _EXTRA.append(plugin)
    get_registry(refresh=True)


def unregister_in_process(plugin: Any) -> None:
    if plugin in _EXTRA:
        _EXTRA.remove(plugin)
    get_registry(refresh=True)


def get_plugin(kind: str, name: str) -> Any:
    return get_registry().get(kind, name).obj
