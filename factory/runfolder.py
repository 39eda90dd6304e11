"""The run folder: the single source of truth of a run, always resumable.

Layout::

    RUN/recipe.yaml      resolved recipe (secret-free: secrets are env-var names)
    RUN/state.json       fingerprint, committed batches and byte offsets (atomic replace)
    RUN/accepted.jsonl   append-only journal of accepted records
    RUN/rejected.jsonl   rejected records with a reason code
    RUN/stats.json       counts, usage, cost, timings (atomic replace)
    RUN/cache/           response caches
    RUN/data/            the exported dataset

A batch is committed by appending its accepted and rejected lines, fsyncing
both files, then atomically replacing ``state.json`` with the new byte
offsets. On open, both journals are truncated back to the committed offsets,
so a kill at any instant loses no committed record and duplicates none.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from factory.errors import UserError
from factory.records import Record

#: 2: plugin identities in the fingerprint, usage in the spend ledger (ledger.sqlite)
STATE_VERSION = 2


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file, fsync and rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


@dataclass
class RunState:
    fingerprint: dict[str, Any] = field(default_factory=dict)
    batches_done: int = 0
    accepted_bytes: int = 0
    rejected_bytes: int = 0
    accepted: int = 0
    rejected: int = 0
    stages_done: list[str] = field(default_factory=list)
    counters: dict[str, Any] = field(default_factory=dict)  # usage and rejection counts, restored on resume
    started_at: float = field(default_factory=time.time)

    version: int = STATE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "version": STATE_VERSION}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunState":
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        data.setdefault("version", 1)
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> "RunState":
        """The state in ``path``, checked field by field: a state.json that is not UTF-8, not JSON, not an
        object or has a field of the wrong type is one UserError naming the file, the field and the fix."""
        fix = ("it was edited or written by something else; rerun `factory run` with --restart (the folder is kept "
               "as <name>.old-<time>)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); {fix}") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); {fix}") from None
        except IsADirectoryError:
            raise UserError(f"{path}: a folder where the run state should be; {fix}") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected a JSON object, found {_json_kind(data)}; {fix}")
        for name, kinds in _STATE_FIELD_KINDS.items():
            if name in data and not (isinstance(data[name], kinds) and not isinstance(data[name], bool)):
                raise UserError(f"{path}: field '{name}' must be {_KIND_WORDS[kinds]}, found "
                                f"{_json_kind(data[name])}; {fix}")
        if not all(isinstance(stage, str) for stage in data.get("stages_done", [])):
            raise UserError(f"{path}: field 'stages_done' must be a list of stage names; {fix}")
        for name in ("batches_done", "accepted_bytes", "rejected_bytes", "accepted", "rejected"):
            if data.get(name, 0) < 0:
                raise UserError(f"{path}: field '{name}' must not be negative; {fix}")
        return cls.from_json(data)


_STATE_FIELD_KINDS: dict[str, type | tuple[type, ...]] = {
    "fingerprint": dict, "batches_done": int, "accepted_bytes": int, "rejected_bytes": int, "accepted": int,
    "rejected": int, "stages_done": list, "counters": dict, "started_at": (int, float), "version": int,
}
_KIND_WORDS = {dict: "an object", int: "an integer", list: "a list", (int, float): "a number"}


def _json_kind(value: Any) -> str:
    """How JSON would name ``value``'s type (for messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__)


def diff_fingerprints(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable list of changed paths between two fingerprints."""
    changes: list[str] = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}{key}"
        a, b = old.get(key, "<unset>"), new.get(key, "<unset>")
        if isinstance(a, dict) and isinstance(b, dict):
            changes.extend(diff_fingerprints(a, b, path + "."))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and a != b:
            # lists of plugin identities (filters): name each item by its plugin, else by its position
            names = [str(x.get("plugin", i)) if isinstance(x, dict) else str(i) for i, x in enumerate(a)]
            if len(set(names)) < len(names):
                names = [str(i) for i in range(len(a))]
            changes.extend(diff_fingerprints(dict(zip(names, a)), dict(zip(names, b)), path + "."))
        elif a != b:
            changes.append(f"{path}: {json.dumps(a, ensure_ascii=False)} -> {json.dumps(b, ensure_ascii=False)}")
    return changes


class RunFolder:
    """Owns every file of one run folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.state = RunState()

    # -- paths ---------------------------------------------------------------
    @property
    def accepted_path(self) -> Path:
        return self.path / "accepted.jsonl"

    @property
    def rejected_path(self) -> Path:
        return self.path / "rejected.jsonl"

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def stats_path(self) -> Path:
        return self.path / "stats.json"

    @property
    def recipe_path(self) -> Path:
        return self.path / "recipe.yaml"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def cache_dir(self) -> Path:
        return self.path / "cache"

    def exists(self) -> bool:
        return self.state_path.exists()

    # -- lifecycle -------------------------------------------------------------
    def open(self, fingerprint: dict[str, Any], recipe_data: dict[str, Any], restart: bool = False) -> bool:
        """Create or resume the run; returns True when resuming.

        A changed fingerprint (data-affecting recipe fields) refuses to resume,
        naming what changed; ``restart`` moves the old folder aside first.
        """
        if restart and self.path.exists():
            from factory import runlock

            backup = self.path.with_name(f"{self.path.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
            shutil.move(str(self.path), str(backup))
            self.path.mkdir(parents=True, exist_ok=True)
            lock = runlock.held(self.path)
            if lock is not None:
                lock.relocate()
        self.path.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(exist_ok=True)
        resuming = self.exists()
        if resuming:
            self.state = RunState.load(self.state_path)
            if self.state.version < STATE_VERSION:
                raise UserError(
                    f"{self.path}: this run folder was written by an older factory (run state v{self.state.version}); "
                    f"its journal still exports and reports, but resuming it needs --restart (the old folder is kept "
                    f"as {self.path.name}.old-<time>) or --out for a new folder")
            changes = diff_fingerprints(self.state.fingerprint, fingerprint)
            if changes:
                lines = "; ".join(changes[:6])
                raise UserError(
                    f"{self.path}: the recipe changed since this run started ({lines}); "
                    f"earlier work would not match. Rerun with --restart to start fresh "
                    f"(the old folder is kept as {self.path.name}.old-<time>), or use --out for a new folder"
                )
            self._truncate_to_committed()
        else:
            self.state = RunState(fingerprint=fingerprint)
            for path in (self.accepted_path, self.rejected_path):
                path.write_bytes(b"")
            self._save_state()
        from factory.secrets_scan import scrub

        # secret-free by construction (keys live in the environment); scrubbed anyway, as export does
        atomic_write_text(self.recipe_path, yaml.safe_dump(scrub(recipe_data), allow_unicode=True, sort_keys=False))
        return resuming

    def _truncate_to_committed(self) -> None:
        for path, size in ((self.accepted_path, self.state.accepted_bytes), (self.rejected_path, self.state.rejected_bytes)):
            if not path.exists():
                if size:
                    raise UserError(f"{path}: missing but the run state says {size} bytes were committed; rerun with --restart")
                path.write_bytes(b"")
                continue
            actual = path.stat().st_size
            if actual < size:
                raise UserError(f"{path}: shorter than the committed {size} bytes (was it edited?); rerun with --restart")
            if actual > size:
                with path.open("r+b") as handle:
                    handle.truncate(size)
                    handle.flush()
                    os.fsync(handle.fileno())

    def _save_state(self) -> None:
        atomic_write_json(self.state_path, self.state.to_json())

    # -- journal ---------------------------------------------------------------
    def commit_batch(self, accepted: list[Record], rejected: list[tuple[Record, str, str]], counters: dict[str, Any]) -> None:
        """Append one batch to both journals durably, then record it as done."""
        batch = self.state.batches_done
        self.state.accepted_bytes = self._append(self.accepted_path, (r.to_dict() for r in accepted))
        self.state.rejected_bytes = self._append(
            self.rejected_path,
            ({**r.to_dict(), "reason": reason, "detail": detail, "batch": batch} for r, reason, detail in rejected),
        )
        self.state.accepted += len(accepted)
        self.state.rejected += len(rejected)
        self.state.batches_done = batch + 1
        self.state.counters = counters
        self._save_state()

    @staticmethod
    def _append(path: Path, rows: Iterator[dict[str, Any]]) -> int:
        with path.open("ab") as handle:
            for row in rows:
                handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            return handle.tell()

    def mark_stage_done(self, stage: str, counters: dict[str, Any] | None = None) -> None:
        if stage not in self.state.stages_done:
            self.state.stages_done.append(stage)
        if counters is not None:
            self.state.counters = counters
        self._save_state()

    def save_counters(self, counters: dict[str, Any]) -> None:
        """Persist counters between commits (a stop that the next run must know about)."""
        self.state.counters = counters
        self._save_state()

    def reset_stage(self, stage: str) -> None:
        if stage in self.state.stages_done:
            self.state.stages_done.remove(stage)
            self._save_state()

    def accepted_records(self) -> list[Record]:
        return list(iter_records(self.accepted_path))

    def write_stats(self, manifest: Any) -> None:
        """Write the run manifest (a :class:`~factory.manifest.RunManifest`) atomically."""
        atomic_write_json(self.stats_path, manifest.to_json() if hasattr(manifest, "to_json") else manifest)


def iter_records(path: Path) -> Iterator[Record]:
    """The records of a journal; a damaged line is one UserError naming the file, the line and the fix."""
    if not path.exists():
        return
    fix = ("a committed line was damaged after it was written; restore the file from a backup, or rerun "
           "`factory run` with --restart (the folder is kept as <name>.old-<time>)")
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw.decode("utf-8"))
                if not isinstance(data, dict):
                    raise TypeError(f"expected a JSON object, found {_json_kind(data)}")
                record = Record.from_dict(data)
            except UnicodeDecodeError:
                raise UserError(f"{path}:{lineno}: not UTF-8 text; {fix}") from None
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg}); {fix}") from None
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise UserError(f"{path}:{lineno}: not a record ({exc}); {fix}") from None
            yield record


def open_existing(path: str | Path) -> RunFolder:
    """A run folder made earlier (for report, push, train); a clear error when it is not one."""
    folder = RunFolder(path)
    if not folder.path.is_dir():
        raise UserError(f"{folder.path}: no such run folder")
    if not folder.accepted_path.exists():
        raise UserError(f"{folder.path}: not a run folder (no accepted.jsonl)")
    if folder.state_path.exists():
        folder.state = RunState.load(folder.state_path)
    return folder
