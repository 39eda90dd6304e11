"""What every stage of a run shares: the recipe, the run folder, plugins, counters and the spend ledger."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.costs import Budget, Usage
from factory.errors import UserError
from factory.languages import Language
from factory.manifest import Provenance
from factory.paths import Found, resolve_input
from factory.progress import Progress
from factory.recipe import LoadedRecipe
from factory.records import Record
from factory.runfolder import RunFolder

TEACHER_CACHE = "teacher.sqlite"
LEDGER_FILE = "ledger.sqlite"
#: the per-endpoint figures that add up across teachers and invocations
ENDPOINT_COUNTS = ("requests", "succeeded", "overloaded", "failed", "failovers")


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
    #: source record id -> (reason, detail) for records rejected before batching (conversation cleaning)
    source_rejections: dict[str, tuple[str, str]] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    #: small per-stage state that must survive a resume (e.g. how many batches in a row kept nothing)
    extra: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    ledger: Any = None  # factory.ledger.Ledger once the run folder is open
    run_options: Any = None  # factory.engine.RunOptions
    run_log: Any = None  # factory.runlog.RunLog: RUN/run.log while the run holds the folder
    executor: Any = None  # factory.executors.Executor: where CPU-bound work runs (the driver owns the run folder)
    #: every TeacherClient this invocation made (their teachers' per-endpoint stats go to stats.json)
    teacher_clients: list[Any] = field(default_factory=list)
    #: per-endpoint counts of the invocations before this one (saved with the counters), so a resumed run's
    #: stats.json counts every request each endpoint received, not only this invocation's
    earlier_endpoints: list[dict[str, Any]] = field(default_factory=list)
    _language: Language | None = None

    @property
    def recipe(self):
        return self.loaded.recipe

    @property
    def language(self) -> Language:
        if self._language is None:
            self._language = self.loaded.plugin("language").build()
        return self._language

    def usage_for(self, stage: str) -> Usage:
        if stage not in self.usage:
            self.usage[stage] = Usage(stage=stage, ledger=self.ledger)
        return self.usage[stage]

    def find_input(self, value: str, field: str = "path") -> Found:
        """A file the recipe names, found as :mod:`factory.paths` says (recipe folder, current directory, packaged data)."""
        return resolve_input(value, self.loaded.path, self.recipe.language, f"{self.loaded.path}: {field}")

    def resolve_path(self, value: str, field: str = "path") -> Path:
        return self.find_input(value, field).path

    # -- the spend ledger ------------------------------------------------------------------------
    def open_ledger(self, legacy_usage: dict[str, Any] | None = None) -> None:
        """Open ``RUN/ledger.sqlite``: usage and budget count everything earlier processes paid for.

        ``legacy_usage``: the per-stage usage a run folder of an older factory kept in its state (written
        into an empty ledger once, so an old run resumes with its spend).
        """
        from factory.ledger import COUNTERS, Ledger

        self.ledger = Ledger(self.run.path / LEDGER_FILE)
        if legacy_usage and not self.ledger.totals():
            for stage, data in legacy_usage.items():
                amounts = {k: v for k, v in (data or {}).items() if k in COUNTERS and v}
                if amounts:
                    self.ledger.import_usage(stage, amounts)
        for stage, totals in self.ledger.totals().items():
            self.usage_for(stage).load(totals)
        for usage in self.usage.values():
            usage.ledger = self.ledger
        self.budget.spent_usd = self.ledger.spent_usd()

    def close_ledger(self) -> None:
        if self.ledger is not None:
            self.ledger.flush()

    # -- what survives a resume ---------------------------------------------------------------------
    def counters(self) -> dict[str, Any]:
        """Everything besides usage (which the ledger keeps) that must survive a resume, saved per batch."""
        if self.ledger is not None:
            self.ledger.flush()
        return {
            "rejections": dict(self.rejections),
            "stage_seconds": dict(self.stage_seconds),
            "extra": dict(self.extra),
            "endpoints": self.endpoint_stats(),
        }

    def restore_counters(self, counters: dict[str, Any]) -> None:
        self.rejections.update(counters.get("rejections") or {})
        self.stage_seconds.update(counters.get("stage_seconds") or {})
        self.extra.update(counters.get("extra") or {})
        self.earlier_endpoints = [dict(entry) for entry in counters.get("endpoints") or [] if "url" in entry]

    def count_rejections(self, rejected) -> None:
        for _, reason, _ in rejected:
            self.rejections[reason] = self.rejections.get(reason, 0) + 1

    # -- teachers ---------------------------------------------------------------------------------
    def teacher_client(self, stage: str, spec: Any = None, teacher: Any = None) -> Any:
        """A TeacherClient for ``spec`` (default: the recipe's teacher) counting into ``stage``, with the run's
        response cache and budget."""
        spec = spec if spec is not None else self.loaded.teacher
        if spec is None:
            raise UserError(f"{self.loaded.path}: this recipe needs a teacher section")
        client = spec.client(usage=self.usage_for(stage), budget=self.budget, teacher=teacher,
                             cache_path=self.run.cache_dir / TEACHER_CACHE, report=self.progress.log)
        self.teacher_clients.append(client)
        return client

    def endpoint_stats(self) -> list[dict[str, Any]]:
        """Per-endpoint counts of the run's teachers (an endpoint pool), summed by URL over this invocation and
        the ones before it; the limits (``concurrency``) are this invocation's, ``min_concurrency`` the lowest."""
        merged: dict[str, dict[str, Any]] = {}
        current = [entry for client in self.teacher_clients
                   for entry in getattr(client.teacher, "endpoint_stats", lambda: [])()]
        for entry in [*self.earlier_endpoints, *current]:
            into = merged.get(entry["url"])
            if into is None:
                merged[entry["url"]] = dict(entry)
                continue
            for key, value in entry.items():
                if key in ENDPOINT_COUNTS:
                    into[key] = into.get(key, 0) + value
                elif key == "min_concurrency":
                    into[key] = min(into.get(key, value), value)
                else:
                    into[key] = value  # the latest: this invocation's limit, weight
        return list(merged.values())


def file_sha256(path: Path) -> str:
    """The file's SHA-256; for a folder (a saved dataset), over its files' names and contents in order."""
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(f for f in path.rglob("*") if f.is_file()):
            digest.update(f"{item.relative_to(path).as_posix()}\0{file_sha256(item)}\n".encode())
        return digest.hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_teacher_client(ctx: RunContext, stage: str):
    """The core teacher client around the recipe's teacher plugin (response cache in the run folder)."""
    return ctx.teacher_client(stage)
