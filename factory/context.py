"""What every stage of a run shares: the recipe, the run folder, plugins, counters."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.costs import Budget, Usage
from factory.errors import UserError
from factory.languages import Language
from factory.plugins import get_plugin
from factory.progress import Progress
from factory.recipe import LoadedRecipe
from factory.records import Record
from factory.runfolder import RunFolder


@dataclass
class RunContext:
    loaded: LoadedRecipe
    run: RunFolder
    progress: Progress
    budget: Budget
    usage: dict[str, Usage] = field(default_factory=dict)  # stage -> usage
    rejections: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    seeds: list[Record] = field(default_factory=list)
    seed_info: dict[str, Any] | None = None
    source_records: list[Record] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: small per-stage state that must survive a resume (e.g. how many batches in a row kept nothing)
    extra: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    _language: Language | None = None

    @property
    def recipe(self):
        return self.loaded.recipe

    @property
    def language(self) -> Language:
        if self._language is None:
            self._language = get_plugin("language", self.recipe.language)(**self.recipe.language_options)
        return self._language

    def usage_for(self, stage: str) -> Usage:
        return self.usage.setdefault(stage, Usage())

    def resolve_path(self, value: str) -> Path:
        """Recipe paths are relative to the current directory, falling back to the recipe's folder."""
        path = Path(value)
        if path.is_absolute() or path.exists():
            return path
        beside = self.loaded.path.parent / path
        return beside if beside.exists() else path

    def counters(self) -> dict[str, Any]:
        """Everything that must survive a resume, saved with each committed batch."""
        return {
            "usage": {stage: u.as_dict() for stage, u in self.usage.items()},
            "rejections": dict(self.rejections),
            "stage_seconds": dict(self.stage_seconds),
            "budget_spent_usd": self.budget.spent_usd,
            "extra": dict(self.extra),
        }

    def restore_counters(self, counters: dict[str, Any]) -> None:
        for stage, data in counters.get("usage", {}).items():
            self.usage_for(stage).load(data)
        self.rejections.update(counters.get("rejections", {}))
        self.stage_seconds.update(counters.get("stage_seconds", {}))
        self.budget.spent_usd = float(counters.get("budget_spent_usd", 0.0))
        self.extra.update(counters.get("extra", {}))

    def count_rejections(self, rejected) -> None:
        for _, reason, _ in rejected:
            self.rejections[reason] = self.rejections.get(reason, 0) + 1


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_teacher_client(ctx: RunContext, stage: str):
    """The core teacher client around the recipe's teacher plugin (response cache in the run folder)."""
    from factory.teacher_factory import build_teacher_client as build

    section = ctx.loaded.data.get("teacher")
    if not isinstance(section, dict):
        raise UserError(f"{ctx.loaded.path}: this recipe needs a teacher section")
    return build(section, usage=ctx.usage_for(stage), budget=ctx.budget, cache_path=ctx.run.cache_dir / "teacher.sqlite",
                 report=ctx.progress.log)
