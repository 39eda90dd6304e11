"""The run manifest (``RUN/stats.json``): one typed record of what a run did and what it cost.

The engine writes it; export, the dataset card, the report, publish and
``--estimate`` read it through :meth:`RunManifest.load`, so a field means the
same thing everywhere and a damaged file is one clear line, not a KeyError.
Usage figures come from the spend ledger (:mod:`factory.ledger`), so they
include what a stopped or killed process paid for. ``status`` is ``finished``
only once the last stage has run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from factory.errors import UserError
from factory.teachers import TeacherProvenance
from factory.translators import TranslatorProvenance

Status = Literal["in progress", "stopped", "finished"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")  # a newer factory may add fields; an older reader keeps them


class _UsageBase(_Model):
    def __add__(self, other: "_UsageBase") -> "_UsageBase":
        return type(self)(**{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields})


def _usage_fields() -> dict[str, Any]:
    """The counters of :class:`factory.costs.Usage`, the one definition of what a stage's usage holds."""
    from dataclasses import MISSING, fields

    from factory.costs import Usage

    return {f.name: (type(f.default), f.default) for f in fields(Usage)
            if not f.name.startswith("_") and f.name not in ("stage", "ledger") and f.default is not MISSING}


#: a stage's usage in the manifest: requests, tokens, characters, cost (``estimated_usd``: spend known only by its
#: estimate, requests in flight when an earlier process died; not in ``cost_usd``) and streaming timings
UsageStats = pydantic.create_model("UsageStats", __base__=_UsageBase, **_usage_fields())


class StageStats(_Model):
    seconds: float | None = None
    accepted: int | None = None
    rejected: int | None = None
    batches: int | None = None


class Provenance(_Model):
    method: str | None = None
    method_identity: dict[str, Any] | None = None
    teacher: TeacherProvenance | None = None
    #: other teachers a method used, by role (a judge ...)
    teachers: dict[str, TeacherProvenance] = Field(default_factory=dict)
    translator: TranslatorProvenance | None = None
    #: languages and fields of the translate stage
    translation: dict[str, Any] | None = None
    language: dict[str, Any] | None = None
    seed_set: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    prompt_sha256: str | None = None
    filters: Any = None
    #: the train stage's output folder and metrics, when the recipe trains
    train: dict[str, Any] | None = None
    factory_version: str = ""


class RunManifest(_Model):
    recipe: str
    language: str
    status: Status = "in progress"
    #: why a run stopped before finishing (budget, quota, a failing server ...)
    stop_reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    accepted: int = 0
    rejected: int = 0
    target: int | None = None
    stages: dict[str, StageStats] = Field(default_factory=dict)
    rejections: dict[str, int] = Field(default_factory=dict)
    usage: dict[str, UsageStats] = Field(default_factory=dict)
    totals: UsageStats = Field(default_factory=UsageStats)
    budget_usd: float | None = None
    #: figures the method reports about what it made (preference methods: scores, margins, position bias)
    method_summary: dict[str, Any] | None = None
    provenance: Provenance = Field(default_factory=Provenance)
    #: where the CPU-bound work ran (executor plugin and its workers); never part of the run's identity
    executor: dict[str, Any] | None = None
    #: per-endpoint requests, overloads (429), failovers and adaptive concurrency of a teacher endpoint pool,
    #: for this invocation (a resumed run reports its own)
    endpoints: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def save(self, path: Path) -> None:
        from factory.runfolder import atomic_write_json

        atomic_write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "RunManifest":
        """The manifest in ``path``; a one-line UserError naming the file when it is unreadable."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{path}: no run manifest (has this run started?)") from None
        except (UnicodeDecodeError, json.JSONDecodeError, IsADirectoryError) as exc:
            raise UserError(f"{path}: not a readable run manifest ({type(exc).__name__}); rerun the recipe "
                            "to rewrite it") from None
        return cls.from_json(data, path)

    @classmethod
    def from_json(cls, data: Any, where: Path | str = "stats.json") -> "RunManifest":
        try:
            return cls.model_validate(_upgrade(data))
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(manifest)"
            raise UserError(f"{where}: {field}: {first['msg']}; rerun the recipe to rewrite the manifest") from None


def _upgrade(data: Any) -> Any:
    """A manifest written before plugins described themselves: its teacher and translator identity strings
    become descriptions marked unrecorded, so old run folders still export and report."""
    if not isinstance(data, dict) or not isinstance(data.get("provenance"), dict):
        return data
    provenance = dict(data["provenance"])
    teacher = provenance.get("teacher")
    if isinstance(teacher, dict) and "model" not in teacher:
        legacy = teacher.get("identity")
        provenance["teacher"] = {"plugin": teacher.get("plugin", "unrecorded"), "model": "unrecorded",
                                 "endpoint_kind": "unrecorded",
                                 "identity": legacy if isinstance(legacy, dict) else {"legacy": legacy}}
    translator = provenance.get("translator")
    if isinstance(translator, dict) and "engine" not in translator:
        legacy = translator.get("identity")
        provenance["translation"] = provenance.get("translation") or {
            k: translator[k] for k in ("source_lang", "target_lang", "fields", "regenerate_output") if k in translator}
        provenance["translator"] = {"plugin": translator.get("plugin", "unrecorded"),
                                    "engine": translator.get("plugin", "unrecorded"),
                                    "identity": legacy if isinstance(legacy, dict) else {"legacy": legacy}}
    return {**data, "provenance": provenance}


def read_manifest(path: str | Path) -> RunManifest | None:
    """The manifest when the file exists, else None (export and report work on a journal alone too)."""
    path = Path(path)
    return RunManifest.load(path) if path.exists() else None
