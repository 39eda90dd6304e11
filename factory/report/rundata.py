"""Everything a report reads from a run folder, loaded once.

The report must work on any run folder the engine wrote, finished or not,
and on folders from older versions: a missing ``stats.json`` or
``recipe.yaml`` leaves its parts of the report empty (with a note) rather
than failing, while a corrupt journal line is the user's to fix and is
named by file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from factory.export import read_json, read_yaml
from factory.paths import find_input, is_packaged_name
from factory.records import Record, iter_json_lines
from factory.runfolder import open_existing


@dataclass
class RunData:
    """The run folder's records, rejections, stats and recipe, plus where its seed set is."""

    path: Path
    records: list[Record]
    rejected: list[dict[str, Any]]
    stats: dict[str, Any]
    recipe: dict[str, Any]
    language_code: str
    language_options: dict
    seeds_path: Path | None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.stats.get("recipe") or self.recipe.get("name") or self.path.name)

    @property
    def provenance(self) -> dict[str, Any]:
        return self.stats.get("provenance") or {}

    def _near_duplicate(self) -> dict[str, Any]:
        """The near-duplicate filter's settings as the run recorded them (``field``/``threshold`` keys)."""
        filters = self.provenance.get("filters")
        if isinstance(filters, list):  # the filters as they ran
            found = next((f for f in filters if isinstance(f, dict) and f.get("plugin") == "near_duplicate"), {})
            return {"field": found.get("target"), "threshold": found.get("threshold")}
        return (filters or {}).get("similarity") or {}  # a manifest of an older factory

    @property
    def similarity_field(self) -> str:
        """The record field the near-duplicate filter compared (``instruction`` unless the recipe chose another)."""
        configured = self._near_duplicate().get("field")
        return configured if configured in ("instruction", "input", "output") else "instruction"

    @property
    def threshold(self) -> float | None:
        value = self._near_duplicate().get("threshold")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def seed(self) -> int:
        """The recipe's random seed, so the sampled rows are the same on every rerun."""
        value = self.recipe.get("seed")
        return value if isinstance(value, int) else 0


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a run journal; a journal the run has not written yet is empty."""
    if path.exists():
        for _, row in iter_json_lines(path):
            yield row


def _read_stats(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.exists():
        notes.append(f"{path.name} is missing: counts, rejections and cost come from the journals only")
    return read_json(path)


def _find_seeds(run_dir: Path, stats: dict[str, Any], recipe: dict[str, Any], notes: list[str]) -> Path | None:
    """The seed set the run started from: the path stats recorded, else the recipe's ``method.seeds``.

    A packaged set (``ko:default``) is looked up in the installed plugins.
    A relative path is tried from the current directory (where ``factory run``
    resolved it first), then from the run folder and its parent.
    """
    recorded = ((stats.get("provenance") or {}).get("seed_set") or {}).get("path")
    method = recipe.get("method")
    named = recorded or (method.get("seeds") if isinstance(method, dict) else None)
    if not named:
        return None
    if is_packaged_name(str(named)):  # ko:default: the run found a seed set an installed plugin ships
        found, _ = find_input(str(named), [], str(recipe.get("language") or "en"))
        if found is not None:
            return found.path
        notes.append(f"seed set {named} is not installed here: the similarity-to-seeds histogram is left out")
        return None
    path = Path(str(named))
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, run_dir / path, run_dir.parent / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    notes.append(f"seed set {named} not found: the similarity-to-seeds histogram is left out")
    return None


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder; a path that is not one is a one-line :class:`UserError`."""
    folder = open_existing(run_dir)
    notes: list[str] = []
    records = [Record.from_dict(row) for row in _json_lines(folder.accepted_path)]
    rejected = list(_json_lines(folder.rejected_path))
    stats = _read_stats(folder.stats_path, notes)
    recipe = read_yaml(folder.recipe_path)
    language = stats.get("language") or recipe.get("language") or "en"
    return RunData(
        path=folder.path,
        records=records,
        rejected=rejected,
        stats=stats,
        recipe=recipe,
        language_code=str(language),
        language_options=dict(recipe.get("language_options") or {}),
        seeds_path=_find_seeds(folder.path, stats, recipe, notes),
        notes=notes,
    )
