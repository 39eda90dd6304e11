"""The Alpaca record and loaders for the formats users bring.

Accepted: Alpaca JSON (a list of objects), Alpaca JSONL, and the self-instruct
``seed_tasks.jsonl`` format (``id``, ``name``, ``instruction``,
``instances: [{input, output}]``, ``is_classification``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from factory.errors import UserError

FIELDS = ("instruction", "input", "output")


@dataclass
class Record:
    """One instruction-following example; ``meta`` holds provenance."""

    instruction: str
    input: str = ""
    output: str = ""
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instruction": self.instruction,
            "input": self.input,
            "output": self.output,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Record":
        return cls(
            instruction=data.get("instruction", ""),
            input=data.get("input", "") or "",
            output=data.get("output", "") or "",
            id=str(data.get("id", "") or ""),
            meta=dict(data.get("meta") or {}),
        )


@dataclass
class SeedTask:
    """A human-written seed task in the self-instruct format."""

    id: str
    name: str
    instruction: str
    instances: list[dict[str, str]]
    is_classification: bool = False

    def first_record(self) -> Record:
        first = self.instances[0] if self.instances else {"input": "", "output": ""}
        return Record(
            instruction=self.instruction,
            input=first.get("input", "") or "",
            output=first.get("output", "") or "",
            id=self.id,
            meta={"source": "seed", "name": self.name},
        )


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file.

    Every JSONL file a user or a run stage hands the core goes through here, so
    a broken line is always the same one-line UserError naming file and line.
    """
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
            if not isinstance(value, dict):
                raise UserError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, value


def _check_record(path: Path, where: str, data: dict[str, Any], field_name: str = "instruction") -> None:
    if field_name not in data:
        raise UserError(f"{path}:{where}: missing field '{field_name}'")
    for name in FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise UserError(f"{path}:{where}: field '{name}' must be a string")


def load_records(path: str | Path, required_field: str = "instruction") -> list[Record]:
    """Load Alpaca JSON/JSONL or seed tasks as records (seeds give their first instance)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    text_head = path.read_text(encoding="utf-8")[:4096].lstrip()
    records: list[Record] = []
    if text_head.startswith("["):
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        for index, data in enumerate(items):
            if not isinstance(data, dict):
                raise UserError(f"{path}: item {index}: expected a JSON object")
            _check_record(path, f"item {index}", data, required_field)
            record = Record.from_dict(data)
            record.id = record.id or f"{path.stem}-{index}"
            records.append(record)
        return records
    for lineno, data in iter_json_lines(path):
        if "instances" in data:
            records.append(_seed_from_dict(path, lineno, data).first_record())
            continue
        _check_record(path, str(lineno), data, required_field)
        record = Record.from_dict(data)
        record.id = record.id or f"{path.stem}-{lineno}"
        records.append(record)
    return records


def _seed_from_dict(path: Path, lineno: int, data: dict[str, Any]) -> SeedTask:
    for name in ("instruction", "instances"):
        if name not in data:
            raise UserError(f"{path}:{lineno}: missing field '{name}'")
    instances = data["instances"]
    if not isinstance(instances, list) or not instances:
        raise UserError(f"{path}:{lineno}: 'instances' must be a non-empty list")
    for instance in instances:
        if not isinstance(instance, dict) or "output" not in instance:
            raise UserError(f"{path}:{lineno}: each instance needs 'input' and 'output'")
    return SeedTask(
        id=str(data.get("id", f"seed_task_{lineno - 1}")),
        name=str(data.get("name", "")),
        instruction=data["instruction"],
        instances=[{"input": i.get("input", "") or "", "output": i.get("output", "")} for i in instances],
        is_classification=bool(data.get("is_classification", False)),
    )


def load_seed_tasks(path: str | Path) -> list[SeedTask]:
    """Load a seed_tasks.jsonl file (the self-instruct format)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    return [_seed_from_dict(path, lineno, data) for lineno, data in iter_json_lines(path)]
