"""The canonical record, and loaders for the formats users bring.

Every dataset this tool makes is a list of :class:`Record`: a conversation
(``messages``, each ``{role, content}`` with role ``system``, ``user`` or
``assistant``), optional preference fields and ``meta`` provenance. This is
the shape current trainers read (TRL, axolotl, LLaMA-Factory), so one record
type serves instruction data, multi-turn conversations and preference pairs.

Alpaca's ``instruction``/``input``/``output`` is a *view* of a single-turn
record: the first user turn is ``instruction``, or ``instruction + "\\n\\n" +
input`` when there is an input (the record remembers ``input`` so the view
round-trips losslessly), and the first assistant turn is ``output``.

Preference fields, for one prompt (``messages`` ending on a user turn):

- ``chosen`` / ``rejected``: the better and the worse assistant reply (DPO,
  ORPO, reward models);
- ``label``: for an unpaired example (KTO), whether the conversation's last
  assistant turn is desirable;
- ``score``: a scalar judgement of the record (judge filters, votes).

Input files (JSON lists or JSONL) may hold any row format of
:mod:`factory.formats` (canonical ``messages``, which is what the run journal
holds, Alpaca, ShareGPT, TRL preference and unpaired rows) and the
self-instruct ``seed_tasks.jsonl`` format. Journals written before ``messages``
existed hold Alpaca lines; they load through the same path (the migration).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from factory.errors import UserError

FIELDS = ("instruction", "input", "output")
ROLES = ("system", "user", "assistant")
#: Separator between an Alpaca instruction and its input inside the first user turn.
INPUT_SEPARATOR = "\n\n"

#: Which text of a record a filter judges (see :meth:`Record.texts`).
Target = Literal["instruction", "input", "output", "user_turns", "assistant_turns", "all_turns",
                 "chosen", "rejected"]
TARGETS: tuple[str, ...] = Target.__args__  # type: ignore[attr-defined]

Message = dict[str, str]


def message(role: str, content: str) -> Message:
    return {"role": role, "content": content}


class Record:
    """One example: a conversation, optional preference fields, an id and provenance."""

    __slots__ = ("messages", "id", "meta", "_input", "chosen", "rejected", "score", "label")

    def __init__(self, messages: Sequence[Message] | None = None, *, id: str = "", meta: dict[str, Any] | None = None,
                 input: str = "", chosen: str | None = None, rejected: str | None = None,
                 score: float | None = None, label: bool | None = None):
        self.messages: list[Message] = [dict(m) for m in (messages or [])]
        self.id = id
        self.meta: dict[str, Any] = dict(meta or {})
        self._input = input or ""
        self.chosen = chosen
        self.rejected = rejected
        self.score = score
        self.label = label

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_alpaca(cls, instruction: str, input: str = "", output: str = "", *, id: str = "",
                    meta: dict[str, Any] | None = None) -> "Record":
        """A single-turn record from Alpaca fields (an empty output means no assistant turn yet)."""
        record = cls(id=id, meta=meta)
        record._input = input or ""
        record.messages = [message("user", _fold(instruction, record._input))]
        if output:
            record.messages.append(message("assistant", output))
        return record

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Record":
        """A record from a canonical line (``messages``) or an Alpaca one (``instruction``...)."""
        if "messages" in data:
            return cls(
                [message(str(m.get("role", "")), str(m.get("content") or "")) for m in data.get("messages") or []],
                id=str(data.get("id", "") or ""),
                meta=dict(data.get("meta") or {}),
                input=str(data.get("input") or ""),
                chosen=data.get("chosen"),
                rejected=data.get("rejected"),
                score=data.get("score"),
                label=data.get("label"),
            )
        return cls.from_alpaca(
            str(data.get("instruction", "") or ""),
            str(data.get("input", "") or ""),
            str(data.get("output", "") or ""),
            id=str(data.get("id", "") or ""),
            meta=dict(data.get("meta") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical journal line; optional fields appear only when set."""
        data: dict[str, Any] = {"id": self.id, "messages": [dict(m) for m in self.messages]}
        if self._input:
            data["input"] = self._input
        for name in ("chosen", "rejected", "score", "label"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        data["meta"] = self.meta
        return data

    def copy(self) -> "Record":
        return Record.from_dict(json.loads(json.dumps(self.to_dict(), ensure_ascii=False)))

    # -- turns -------------------------------------------------------------------------
    def turns(self, role: str) -> list[str]:
        return [m["content"] for m in self.messages if m.get("role") == role]

    def _first_index(self, role: str) -> int | None:
        return next((i for i, m in enumerate(self.messages) if m.get("role") == role), None)

    @property
    def is_single_turn(self) -> bool:
        """At most one user turn and one assistant reply, nothing else: Alpaca can hold it losslessly."""
        roles = [m.get("role") for m in self.messages]
        return roles in (["user"], ["user", "assistant"])

    @property
    def is_preference(self) -> bool:
        return self.chosen is not None or self.rejected is not None or self.label is not None

    # -- the Alpaca view -----------------------------------------------------------------
    @property
    def instruction(self) -> str:
        index = self._first_index("user")
        if index is None:
            return ""
        content = self.messages[index]["content"]
        suffix = INPUT_SEPARATOR + self._input
        if self._input and content.endswith(suffix):
            return content[: -len(suffix)]
        return content

    @instruction.setter
    def instruction(self, value: str) -> None:
        self._set_first_user(_fold(value, self._input))

    @property
    def input(self) -> str:
        index = self._first_index("user")
        if index is None or not self._input:
            return ""
        return self._input if self.messages[index]["content"].endswith(INPUT_SEPARATOR + self._input) else ""

    @input.setter
    def input(self, value: str) -> None:
        instruction = self.instruction
        self._input = value or ""
        self._set_first_user(_fold(instruction, self._input))

    @property
    def output(self) -> str:
        index = self._first_index("assistant")
        return self.messages[index]["content"] if index is not None else ""

    @output.setter
    def output(self, value: str) -> None:
        index = self._first_index("assistant")
        if index is not None:
            self.messages[index]["content"] = value
        else:
            self.messages.append(message("assistant", value))

    def _set_first_user(self, content: str) -> None:
        index = self._first_index("user")
        if index is None:
            self.messages.insert(0, message("user", content))
        else:
            self.messages[index]["content"] = content

    def alpaca(self) -> dict[str, str]:
        return {"instruction": self.instruction, "input": self.input, "output": self.output}

    # -- what filters judge ----------------------------------------------------------------
    def texts(self, target: str) -> list[str]:
        """The texts a filter with this ``target`` judges (an absent part gives no text)."""
        if target == "output" and self._first_index("assistant") is None and (self.chosen, self.rejected) != (None, None):
            # a pair's output is its two replies: output filters (empty_output, length, language_id...) judge both
            return [t for t in (self.chosen, self.rejected) if t is not None]
        if target in FIELDS:
            value = getattr(self, target)
            return [value] if (value or target != "input") else []
        if target == "user_turns":
            return self.turns("user")
        if target == "assistant_turns":
            return self.turns("assistant") + [t for t in (self.chosen, self.rejected) if t is not None]
        if target == "all_turns":
            return [m["content"] for m in self.messages] + [t for t in (self.chosen, self.rejected) if t is not None]
        if target in ("chosen", "rejected"):
            value = getattr(self, target)
            return [value] if value is not None else []
        raise ValueError(f"unknown filter target {target!r} (known: {', '.join(TARGETS)})")

    # -- value semantics ---------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Record(id={self.id!r}, messages={self.messages!r})"


def _fold(instruction: str, input: str) -> str:
    return f"{instruction}{INPUT_SEPARATOR}{input}" if input else instruction


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
        return Record.from_alpaca(self.instruction, first.get("input", "") or "", first.get("output", "") or "",
                                  id=self.id, meta={"source": "seed", "name": self.name,
                                                    "is_classification": self.is_classification})


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file.

    Every JSONL file a user or a run stage hands the core goes through here, so
    a broken line is always the same one-line UserError naming file and line.
    """
    try:
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
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); re-encode the file as UTF-8") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); re-encode the file as UTF-8") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a JSON or JSONL file") from None


def _convert(path: Path, where: str, data: dict[str, Any], required_field: str) -> Record:
    from factory.formats import RowError, detect_format, row_to_record

    fmt = detect_format(data)
    if fmt is None:
        raise UserError(f"{path}:{where}: missing field '{required_field}'")
    try:
        return row_to_record(data, fmt)
    except RowError as exc:
        raise UserError(f"{path}:{where}: {exc}") from None


def load_records(path: str | Path, required_field: str = "instruction") -> list[Record]:
    """Load every format :mod:`factory.formats` knows (JSON list or JSONL), and seed tasks (first instance)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    text = _read_text(path)
    records: list[Record] = []
    if text[:4096].lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        for index, data in enumerate(items):
            if not isinstance(data, dict):
                raise UserError(f"{path}: item {index}: expected a JSON object")
            record = _convert(path, f"item {index}", data, required_field)
            record.id = record.id or f"{path.stem}-{index}"
            records.append(record)
        return records
    for lineno, data in iter_json_lines(path):
        if "instances" in data:
            records.append(_seed_from_dict(path, lineno, data).first_record())
            continue
        record = _convert(path, str(lineno), data, required_field)
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
