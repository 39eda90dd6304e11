"""Where a file named in a recipe is found: the recipe's folder, the current directory, then packaged data.

Why: a recipe is run from anywhere (an installed tool, a CI job in a temporary
directory, a user's home), so a relative path cannot depend on where the user
happens to stand. A path is looked up, in order,

1. beside the recipe file (``seeds: my_seeds.jsonl`` next to ``my-recipe.yaml``),
2. in the current directory (how the repository's recipes name ``seeds/ko/...``),
3. in the data that installed language plugins ship: ``seeds/<code>/<file>`` is
   the file ``<file>`` of language ``<code>``'s packaged seed sets.

A packaged seed set can also be named directly: ``default`` (the recipe
language's), ``ko:default`` (the Korean plugin's), ``ko:<file>``. Every miss
names the places that were tried. ``factory validate`` and ``factory run`` call
the same functions, so a recipe that validates finds its files when it runs.

Seed sets are package data of the plugin that owns the language (``en`` in the
core's default plugins, ``ko`` in factory-ko...), laid out as
``<package>/seeds/<code>/seed_tasks.jsonl`` and read through ``importlib.resources``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from factory.errors import UserError

#: the name of a language's packaged default seed set
DEFAULT = "default"
#: the seed-set file every language plugin ships
SEED_FILE = "seed_tasks.jsonl"
#: ``CODE:NAME``: a packaged seed set of language CODE (NAME is ``default`` or a file name)
_PACKAGED_NAME = re.compile(r"(?P<code>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*):(?P<name>[^/\\:]+)")
#: ``seeds/CODE/FILE``: how the repository lays seed sets out, and so how packages do
_SEEDS_PATH = re.compile(r"seeds/(?P<code>[^/]+)/(?P<name>[^/]+)")

_extracted = contextlib.ExitStack()  # packaged files extracted from a zip import, kept for the process
atexit.register(_extracted.close)


def packaged_seeds(package: str, code: str, name: str = SEED_FILE) -> Path | None:
    """The seed set ``seeds/<code>/<name>`` shipped as package data of ``package``, or None when absent.

    Language plugins set ``default_seeds`` with it, so an installed wheel finds
    its own copy and an editable checkout finds the repository's ``seeds/``
    (the package's ``seeds/<code>`` is a link to it).
    """
    from importlib import resources

    try:
        resource = resources.files(package).joinpath("seeds", code, name)
    except ModuleNotFoundError:
        return None
    if not resource.is_file():
        return None
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(resources.as_file(resource))  # a zip import: a real file for the readers


@dataclass(frozen=True)
class Found:
    """A file a recipe named, and how provenance (stats, the dataset card) names it."""

    path: Path
    #: the path as found, or ``CODE:NAME`` for packaged data (no local folder leaks into a card)
    label: str


def _language_seed_dir(code: str) -> tuple[Path | None, str]:
    """The folder of language ``code``'s packaged seed sets, or None and why not."""
    from factory.plugins import get_registry

    registry = get_registry()
    if not registry.has("language", code):
        return None, f"packaged seed sets of language '{code}' (no such language plugin is installed)"
    default = registry.get("language", code).obj.default_seeds
    if default is None:
        return None, f"packaged seed sets of language '{code}' (its plugin ships none)"
    return Path(default).parent, f"packaged seed sets of language '{code}'"


def _packaged(code: str, name: str, tried: list[str]) -> Found | None:
    folder, where = _language_seed_dir(code)
    file_name = SEED_FILE if name == DEFAULT else name
    if folder is not None and (folder / file_name).is_file():
        return Found(folder / file_name, f"{code}:{name}")
    tried.append(where if folder is None else f"{where} ({file_name} is not one of them)")
    return None


def is_packaged_name(value: str) -> bool:
    """``default`` or ``CODE:NAME``: a recipe naming a packaged seed set rather than a path."""
    text = value.strip()
    return text == DEFAULT or _PACKAGED_NAME.fullmatch(text) is not None


def find_input(value: str, bases: Sequence[Path], language: str | None) -> tuple[Found | None, list[str]]:
    """Look ``value`` up: a packaged name, an absolute path, or relative to each of ``bases`` then packaged data.

    Returns what was found (or None) and every place tried, in order.
    """
    tried: list[str] = []
    text = str(value).strip()
    if text == DEFAULT:
        if not language:
            return None, ["the recipe's language (none given)"]
        return _packaged(language, DEFAULT, tried), tried
    named = _PACKAGED_NAME.fullmatch(text)
    if named and not Path(text).exists():
        return _packaged(named["code"], named["name"], tried), tried
    path = Path(text).expanduser()
    if path.is_absolute():
        tried.append(str(path))
        return (Found(path, str(path)) if path.exists() else None), tried
    seen: set[Path] = set()
    for base in bases:
        candidate = Path(os.path.normpath(Path(base) / path))
        where = candidate.absolute()
        if where in seen:  # the recipe stands in the current directory
            continue
        seen.add(where)
        tried.append(str(where))
        if candidate.exists():
            return Found(candidate, str(candidate)), tried
    seeds = _SEEDS_PATH.fullmatch(path.as_posix())
    if seeds:
        return _packaged(seeds["code"], seeds["name"], tried), tried
    return None, tried


def not_found_message(value: str, tried: Sequence[str]) -> str:
    return f"'{value}' not found (tried: {'; '.join(tried)})"


def recipe_bases(recipe_path: str | Path) -> list[Path]:
    """Where relative recipe paths are looked up: the recipe's folder, then the current directory."""
    return [Path(recipe_path).parent, Path(".")]


def resolve_input(value: str, recipe_path: str | Path, language: str | None, what: str) -> Found:
    """:func:`find_input` from a recipe's bases; a miss is a one-line :class:`UserError` naming every place tried."""
    found, tried = find_input(value, recipe_bases(recipe_path), language)
    if found is None:
        raise UserError(f"{what}: {not_found_message(value, tried)}")
    return found


def recipe_input_problems(recipe: Any, recipe_path: str | Path, problem: Callable[..., str],
                          needs_seeds: bool = True) -> list[str]:
    """One ``file:line:col`` problem per input file of ``recipe`` that cannot be found (for validate and run).

    The inputs are the seed tasks of a generating recipe (``method.seeds``,
    default: the language's packaged set) and the records of ``source.path``.
    """
    from factory.plugins import get_registry

    checks: list[tuple[tuple[str, ...], str]] = []
    if recipe.method is not None and (recipe.method.seeds or needs_seeds):
        checks.append((("method", "seeds"), recipe.method.seeds or DEFAULT))
    if recipe.source is not None and recipe.source.path:
        checks.append((("source", "path"), recipe.source.path))
    for index, item in enumerate(recipe.sources or []):
        if item.path:
            checks.append((("sources", index, "path"), item.path))
    problems = []
    for loc, value in checks:
        if value == DEFAULT and not get_registry().has("language", recipe.language):
            continue  # the missing language plugin is reported on its own line
        found, tried = find_input(value, recipe_bases(recipe_path), recipe.language)
        if found is None:
            problems.append(problem(loc, not_found_message(value, tried), True))
    return problems
