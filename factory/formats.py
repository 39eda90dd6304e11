"""Row formats users bring, each converted into the canonical :class:`~factory.records.Record`.

One converter per format; :func:`row_to_record` picks the converter from the
keys a row has, so one file may even mix formats (a Koala-style mixture).

- canonical / OpenAI ``messages``: ``{"messages": [{"role", "content"}], ...}``
- Alpaca: ``{"instruction", "input", "output"}``
- ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}``
- TRL preference: ``{"prompt", "chosen", "rejected"}``, plain strings or conversational
  (lists of messages)
- TRL unpaired (KTO): ``{"prompt", "completion", "label"}``
- self-instruct seed tasks: ``{"instruction", "instances": [{"input", "output"}]}`` (see records.py)

A malformed row raises :class:`RowError` with a short reason; file loaders turn it
into a one-line ``file:line: reason`` error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from factory.errors import UserError
from factory.records import FIELDS, ROLES, Record, message

#: ShareGPT speaker names -> canonical roles
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant", "bard": "assistant",
                  "bing": "assistant", "assistant": "assistant", "model": "assistant", "system": "system"}


class RowError(ValueError):
    """A row that does not hold what its format needs."""


def _messages(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise RowError(f"'{where}' must be a list of {{role, content}} objects")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise RowError(f"{where}[{index}] needs a string 'content'")
        if item.get("role") not in ROLES:
            raise RowError(f"{where}[{index}].role must be one of {', '.join(ROLES)}")
        result.append(message(item["role"], item["content"]))
    return result


def _assistant_text(value: Any, where: str) -> str:
    """A TRL completion: a string, or a conversational list whose assistant turns are joined."""
    if isinstance(value, str):
        return value
    turns = _messages(value, where)
    if not turns or any(m["role"] != "assistant" for m in turns):
        raise RowError(f"'{where}' must be a string or a list of assistant messages")
    return "\n".join(m["content"] for m in turns)


def _prompt_messages(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [message("user", value)]
    return _messages(value, "prompt")


def _common(row: dict[str, Any]) -> dict[str, Any]:
    meta = row.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise RowError("'meta' must be an object")
    return {"id": str(row.get("id", "") or ""), "meta": dict(meta or {})}


def from_canonical(row: dict[str, Any]) -> Record:
    record = Record.from_dict({**row, "messages": _messages(row.get("messages"), "messages")})
    record.meta = _common(row)["meta"]
    return record


def from_alpaca(row: dict[str, Any]) -> Record:
    for name in FIELDS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            raise RowError(f"field '{name}' must be a string")
    return Record.from_alpaca(row.get("instruction") or "", row.get("input") or "", row.get("output") or "",
                              **_common(row))


def from_sharegpt(row: dict[str, Any]) -> Record:
    turns = row.get("conversations")
    if not isinstance(turns, list):
        raise RowError("'conversations' must be a list of {from, value} objects")
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise RowError(f"conversations[{index}] needs 'from' and 'value'")
        role = SHAREGPT_ROLES.get(str(turn["from"]).lower())
        if role is None:
            raise RowError(f"conversations[{index}].from: unknown speaker {turn['from']!r}")
        messages.append(message(role, str(turn["value"] or "")))
    return Record(messages, **_common(row))


def from_trl_preference(row: dict[str, Any]) -> Record:
    return Record(_prompt_messages(row.get("prompt")), chosen=_assistant_text(row.get("chosen"), "chosen"),
                  rejected=_assistant_text(row.get("rejected"), "rejected"), **_common(row))


def from_trl_unpaired(row: dict[str, Any]) -> Record:
    label = row.get("label")
    if not isinstance(label, bool):
        raise RowError("'label' must be true or false")
    messages = _prompt_messages(row.get("prompt")) + [message("assistant", _assistant_text(row.get("completion"), "completion"))]
    return Record(messages, label=label, **_common(row))


#: (format name, keys that identify it, converter), tried in order
FORMATS: tuple[tuple[str, tuple[str, ...], Callable[[dict[str, Any]], Record]], ...] = (
    ("messages", ("messages",), from_canonical),
    ("sharegpt", ("conversations",), from_sharegpt),
    ("trl-preference", ("prompt", "chosen", "rejected"), from_trl_preference),
    ("trl-unpaired", ("prompt", "completion", "label"), from_trl_unpaired),
    ("alpaca", ("instruction",), from_alpaca),
)
FORMAT_NAMES = tuple(name for name, _, _ in FORMATS)


def detect_format(row: dict[str, Any]) -> str | None:
    for name, keys, _ in FORMATS:
        if all(key in row for key in keys):
            return name
    return None


def row_to_record(row: dict[str, Any], fmt: str | None = None) -> Record:
    """Convert one row; ``fmt`` forces a format, otherwise it is detected from the row's keys."""
    name = fmt or detect_format(row)
    for candidate, _, convert in FORMATS:
        if candidate == name:
            return convert(row)
    known = ", ".join(f"{n} ({'+'.join(k)})" for n, k, _ in FORMATS)
    raise RowError(f"unknown row format (keys: {', '.join(sorted(map(str, row))) or 'none'}); expected one of {known}")


# ---------------------------------------------------------------- whole-file formats

#: formats read a file at a time, where a row is not a record (message trees, questions with their answers):
#: name -> loader(path) -> records. Modules that add one call :func:`register_file_format` when imported.
FILE_FORMATS: dict[str, Callable[[Path], list[Record]]] = {}
#: module that registers each file format, imported on first use (keeps the core's start-up light)
FILE_FORMAT_MODULES: dict[str, str] = {name: "factory.preference_sources" for name in ("votes", "oasst", "oasst-sft")}


def register_file_format(name: str, loader: Callable[[Path], list[Record]]) -> None:
    FILE_FORMATS[name] = loader


def source_format_names() -> list[str]:
    return ["auto", *FORMAT_NAMES, *sorted({*FILE_FORMATS, *FILE_FORMAT_MODULES})]


def load_source(path: str | Path, fmt: str = "auto", *, on_error: str = "raise") -> list[Record]:
    """Records of a source: a JSON/JSONL file, a Parquet file, or a Hugging Face dataset folder (``save_to_disk``
    or a folder of Parquet files). ``auto`` detects each row's format; a row format name forces it on every row;
    a file format name reads the whole file its own way.

    ``on_error="reject"`` keeps a malformed row instead of stopping: it becomes an empty record whose
    ``meta["row_error"]`` says what is wrong (and ``meta["raw"]`` holds the row), for a stage that rejects it with a
    reason (conversation cleaning), so nothing of a large scraped file is silently lost or stops the run.
    """
    from factory.records import load_records

    path = Path(path)
    tabular = path.is_dir() or path.suffix == ".parquet"
    if fmt == "auto" and on_error == "raise" and not tabular:
        return load_records(path)
    if fmt == "auto" or fmt in FORMAT_NAMES:
        forced = None if fmt == "auto" else fmt
        return [_forced(path, row, forced, on_error) for row in _rows(path)]
    if fmt not in FILE_FORMATS and fmt in FILE_FORMAT_MODULES:
        import importlib

        importlib.import_module(FILE_FORMAT_MODULES[fmt])
    if fmt not in FILE_FORMATS:
        raise UserError(f"{path}: unknown source format '{fmt}' (known: {', '.join(source_format_names())})")
    return FILE_FORMATS[fmt](path)


def _dataset_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Rows of a Parquet file or a dataset folder, through ``datasets`` (imported only for these)."""
    try:
        import datasets
    except ImportError:
        raise UserError(f"{path}: reading Parquet or a dataset folder needs the `datasets` package "
                        "(pip install 'koalpaca-factory[export]')") from None
    try:
        if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
            loaded = datasets.load_from_disk(str(path))
        elif path.is_dir():
            files = sorted(str(f) for f in path.rglob("*.parquet"))
            if not files:
                raise UserError(f"{path}: a folder source needs a saved dataset (save_to_disk) or .parquet files")
            loaded = datasets.load_dataset("parquet", data_files=files, split="train")
        else:
            loaded = datasets.load_dataset("parquet", data_files=str(path), split="train")
    except UserError:
        raise
    except Exception as exc:  # a broken file: one line, not a traceback
        raise UserError(f"{path}: could not read the dataset ({type(exc).__name__}: {str(exc)[:200]})") from None
    if isinstance(loaded, datasets.DatasetDict):
        loaded = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
    return [(f"row {i}", {k: v for k, v in row.items() if v is not None}) for i, row in enumerate(loaded)]


def _rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    import json

    from factory.records import iter_json_lines

    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir() or path.suffix == ".parquet":
        return _dataset_rows(path)
    text = path.read_text(encoding="utf-8", errors="strict") if path.suffix == ".json" else None
    if text is not None and text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        return [(f"item {i}", item) for i, item in enumerate(items)]
    return [(str(lineno), row) for lineno, row in iter_json_lines(path)]


def _forced(path: Path, where_row: tuple[str, Any], fmt: str | None, on_error: str = "raise") -> Record:
    """One row as a record (``fmt`` None: its format from its keys); a malformed row raises a located UserError,
    or with ``on_error="reject"`` becomes an empty record carrying the problem (see :func:`load_source`)."""
    where, row = where_row
    try:
        if not isinstance(row, dict):
            raise RowError("expected a JSON object")
        if fmt is None and "instances" in row:  # a seed task: its first instance
            from factory.records import _seed_from_dict

            number = int("".join(ch for ch in where if ch.isdigit()) or 0)
            record = _seed_from_dict(path, number + (0 if where.isdigit() else 1), row).first_record()
        else:
            if fmt is None and detect_format(row) is None:
                raise RowError(f"no known row format (keys: {', '.join(sorted(map(str, row))) or 'none'})")
            record = row_to_record(row, fmt)
    except RowError as exc:
        if on_error != "reject":
            raise UserError(f"{path}:{where}: {exc}") from None
        raw = row if isinstance(row, dict) else {"value": row}
        record = Record(id=str(raw.get("id", "") or ""), meta={"row_error": str(exc), "source_line": where, "raw": raw})
    record.id = record.id or f"{path.stem}-{where.replace('item ', '').replace('row ', '')}"
    return record
