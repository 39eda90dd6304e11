"""``factory dedup``: drop near-duplicate records from a file, greedily, like Alpaca's filter.

A record is kept when the ROUGE-L F-measure of its ``field`` against every
``--against`` record and every record kept before it is at most the
threshold. Kept JSONL lines are copied byte for byte, in input order, so the
output can be diffed against the input. The whole input is read and checked
before anything is written, and outputs are replaced atomically: a mistake in
line 40,000 leaves no half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from factory.errors import UserError
from factory.languages import Language

__all__ = ["DedupSummary", "SourceRecord", "dedup_file", "read_records"]


@dataclass(frozen=True)
class SourceRecord:
    """One record as read: where it starts, its original bytes (JSONL) and its fields."""

    line: int
    raw: bytes | None
    data: dict[str, Any]


@dataclass(frozen=True)
class DedupSummary:
    input_path: Path
    output_path: Path
    rejected_path: Path | None
    total: int
    kept: int
    rejected: int
    against: int
    threshold: float
    field: str
    #: with ``blocking="minhash"``: its recall against the exact filter on a sample
    recall: Any = None

    def message(self) -> str:
        against = f" and {self.against} --against records" if self.against else ""
        line = (
            f"kept {self.kept} of {self.total} records; dropped {self.rejected} whose ROUGE-L F "
            f"against earlier kept records{against} exceeds {self.threshold} -> {self.output_path}"
        )
        return line if self.recall is None else line + "\n" + self.recall.message()


# -- reading ----------------------------------------------------------------
def read_records(path: Path, field: str) -> list[SourceRecord]:
    """Records of a JSONL file or a JSON array, each checked to have a string ``field``."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    records = []
    for record in _array_records(path, data) if data.lstrip()[:1] == b"[" else _jsonl_records(path, data):
        if not isinstance(record.data, dict):
            raise UserError(f"{path}:{record.line}: expected a JSON object, got {_json_type(record.data)}")
        if field not in record.data:
            raise UserError(f"{path}:{record.line}: missing field '{field}'")
        if not isinstance(record.data[field], str):
            raise UserError(
                f"{path}:{record.line}: field '{field}' must be a string, got {_json_type(record.data[field])}"
            )
        records.append(record)
    return records


def _jsonl_records(path: Path, data: bytes) -> Iterator[SourceRecord]:
    for lineno, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}:{lineno}: not valid UTF-8 (byte {exc.start + 1} of the line)") from None
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
        yield SourceRecord(lineno, raw if raw.endswith(b"\n") else raw + b"\n", value)


def _array_records(path: Path, data: bytes) -> Iterator[SourceRecord]:
    """Items of a JSON array, each with the line it starts on (for error messages and ``line N``)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{path}:{line}: not valid UTF-8") from None
    decoder = json.JSONDecoder()
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    def skip_space(pos: int) -> int:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    pos = skip_space(text.index("[") + 1)
    if pos < len(text) and text[pos] == "]":
        end = pos + 1
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
            yield SourceRecord(line_at(pos), None, value)
            pos = skip_space(end)
            if pos < len(text) and text[pos] == ",":
                pos = skip_space(pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                end = pos + 1
                break
            raise UserError(f"{path}:{line_at(min(pos, len(text)))}: not valid JSON: expected ',' or ']' in the array")
    if skip_space(end) != len(text):
        raise UserError(f"{path}:{line_at(skip_space(end))}: not valid JSON: extra data after the array")


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _label(record: SourceRecord, source: str | None) -> Any:
    """How a rejected line names its most similar record: its id, else its line."""
    record_id = record.data.get("id")
    if record_id not in (None, ""):
        return record_id
    return f"line {record.line}" if source is None else f"{source} line {record.line}"


# -- writing ----------------------------------------------------------------
def _write_atomically(outputs: list[tuple[Path, list[bytes]]]) -> None:
    """Write every file to a temporary sibling first; rename only when all are complete."""
    staged: list[tuple[str, Path]] = []
    current = outputs[0][0]
    try:
        for current, chunks in outputs:
            current.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{current.name}.", suffix=".tmp", dir=current.parent)
            staged.append((tmp, current))
            with os.fdopen(fd, "wb") as handle:
                handle.writelines(chunks)
        for tmp, current in staged:
            os.replace(tmp, current)
    except OSError as exc:
        raise UserError(f"{current}: cannot write: {exc.strerror}") from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _json_line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")


def _kept_output(path: Path, records: list[SourceRecord]) -> list[bytes]:
    if path.suffix.lower() == ".json":  # an Alpaca JSON array, like alpaca_data.json
        return [(json.dumps([r.data for r in records], ensure_ascii=False, indent=2) + "\n").encode("utf-8")]
    return [r.raw if r.raw is not None else _json_line(r.data) for r in records]


# -- the command's logic ----------------------------------------------------
def dedup_file(
    in_path: str | Path,
    out_path: str | Path,
    language: Language,
    threshold: float = 0.7,
    field: str = "instruction",
    against: str | Path | None = None,
    rejected_path: str | Path | None = None,
    executor: Any = None,
    blocking: str | None = None,
    blocking_sample: int = 2000,
) -> DedupSummary:
    """Greedy near-duplicate removal of ``in_path`` into ``out_path`` (see the module docstring).

    ``out_path`` gets the kept records (JSONL lines copied unchanged; a JSON
    array when it ends in ``.json``). ``rejected_path``, if given, gets each
    dropped record plus ``max_rouge_l`` and ``most_similar`` (the id, or
    ``line N``, of the record it is too close to). ``executor``
    (:class:`factory.executors.Executor`, default: this process) runs the
    analysis and holds the pool; the output is the same bytes for every executor.
    ``blocking="minhash"`` (:mod:`factory.blocking`) compares each record only
    with MinHash-LSH candidates, for inputs too large for the exact pool; its
    recall against the exact filter on the first ``blocking_sample`` records is
    measured and returned in the summary.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    rejected = Path(rejected_path) if rejected_path is not None else None
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"--threshold must be between 0 and 1, got {threshold}")
    if rejected is not None and rejected.resolve() == out_path.resolve():
        raise UserError(f"{rejected}: --rejected must differ from the output file")

    against_path = Path(against) if against is not None else None
    against_records = read_records(against_path, field) if against_path is not None else []
    records = read_records(in_path, field)

    if executor is None:
        from factory.executors import LocalExecutor

        executor = LocalExecutor(workers=1)
    tokens = executor.tokenize_many(language, [r.data[field] for r in records])
    against_tokens = executor.tokenize_many(language, [r.data[field] for r in against_records]) if against_records else []
    labels = [_label(r, None) for r in records]
    against_labels = [_label(r, against_path.name) for r in against_records] if against_path else []
    if blocking not in (None, "none", "minhash"):
        raise UserError(f"--blocking must be none or minhash, got {blocking!r}")
    recall = None
    if blocking == "minhash":
        from factory.blocking import MinHashRougePool, measure_recall

        recall = measure_recall(tokens, threshold, against_tokens, sample=blocking_sample)
        pool = MinHashRougePool()
    else:
        pool = executor.rouge_pool()
    try:
        pool.add_many(against_tokens, against_labels)
        decisions = pool.greedy(tokens, threshold, labels)
    finally:
        pool.close()

    kept = [r for r, (keep, _, _) in zip(records, decisions) if keep]
    outputs = [(out_path, _kept_output(out_path, kept))]
    if rejected is not None:
        lines = [
            _json_line({**r.data, "max_rouge_l": score, "most_similar": similar})
            for r, (keep, score, similar) in zip(records, decisions)
            if not keep
        ]
        outputs.append((rejected, lines))
    _write_atomically(outputs)
    return DedupSummary(
        input_path=in_path,
        output_path=out_path,
        rejected_path=rejected,
        total=len(records),
        kept=len(kept),
        rejected=len(records) - len(kept),
        against=len(against_records),
        threshold=threshold,
        field=field,
        recall=recall,
    )
