"""Turn a run folder's accepted records into a Hugging Face dataset folder.

Layout written under ``RUN/data/`` (the folder that gets published as is)::

    README.md                       dataset card; its ``configs:`` maps splits to files
    recipe.yaml                     the resolved recipe, scrubbed of secrets
    stats.json                      the run's statistics, scrubbed of secrets
    train-00000-of-00001.parquet    ``datasets.load_dataset(folder)`` reads these
    test-00000-of-00001.parquet     (only with ``test_size``)
    train.jsonl, test.jsonl         the same rows, one JSON object a line

Columns: ``id`` and ``messages`` (a list of ``{role, content}``) for every
dataset; ``instruction, input, output`` too when every record is single-turn
(the Alpaca view, so Alpaca tooling reads the same files); ``chosen``,
``rejected``, ``score`` and ``label`` when any record carries them; then
``meta``. ``meta`` is a struct whose fields are the union of the meta
keys of every record, sorted by name; each field's type is decided once for
the whole export from its non-null values:

- all booleans -> ``bool``; all integers -> ``int64``; all numbers -> ``float64``;
- all strings -> ``string``;
- anything else (mixed types, lists, objects) -> ``string`` holding the value
  JSON-encoded (``json`` in :attr:`ExportSummary.meta_fields`), so no value is
  lost and the column type never depends on row order.

A record without a key gets null. When no record has any meta key the column
is dropped (Arrow cannot store an empty struct).

Exports are deterministic: the same run gives byte-identical files, so a
re-push of an unchanged run changes nothing on the Hub.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from factory import export_atomic, secrets_scan
from factory.errors import UserError
from factory.records import FIELDS, Record, iter_json_lines

COLUMNS = ("id", "messages", *FIELDS)
PREFERENCE_COLUMNS = ("chosen", "rejected", "score", "label")
META = "meta"
FORMATS = ("parquet", "jsonl")
DATA_DIR = "data"
#: data files an export owns (never carried over from the previous export, so no stale split survives)
OWNED_DATA_FILE = re.compile(r"^[A-Za-z0-9_]+(-\d{5}-of-\d{5}\.parquet|\.jsonl)$")


@dataclass
class ExportSummary:
    """What :func:`export_run` wrote."""

    folder: Path  # RUN/data, the publishable folder
    splits: dict[str, int]  # split name -> rows
    columns: list[str]
    meta_fields: dict[str, str]  # meta key -> bool | int64 | float64 | string | json
    files: list[str]  # every file under folder, relative POSIX paths, sorted
    card: Path
    dataset: Any = field(default=None, repr=False)  # the datasets.DatasetDict


def split_file_name(split: str, fmt: str) -> str:
    """``train-00000-of-00001.parquet`` or ``train.jsonl``."""
    return f"{split}-00000-of-00001.parquet" if fmt == "parquet" else f"{split}.jsonl"


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Objects from a JSONL file; a bad line is a UserError naming file and line."""
    if not path.exists():
        raise UserError(f"{path}: file not found (has the run produced it yet?)")
    rows = []
    for lineno, value in iter_json_lines(path):
        value.setdefault("id", "")
        value["_line"] = lineno
        rows.append(value)
    return rows


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file, or ``{}`` when it is missing (stats are optional for export)."""
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object")
    return value


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping file, or ``{}`` when it is missing."""
    import yaml

    if not path.exists():
        return {}
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{where}: not valid YAML") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a YAML mapping")
    return value


# ---------------------------------------------------------------- meta schema


def meta_kind(values: Iterable[Any]) -> str:
    """The storage kind for one meta key, from all its non-null values (see module doc)."""
    values = [v for v in values if v is not None]
    if not values:
        return "string"
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if any(isinstance(v, bool) for v in values):
        return "json"
    if all(isinstance(v, int) for v in values):
        return "int64"
    if all(isinstance(v, (int, float)) for v in values):
        return "float64"
    if all(isinstance(v, str) for v in values):
        return "string"
    return "json"


def meta_schema(metas: list[dict[str, Any]]) -> dict[str, str]:
    """Sorted meta key -> kind over every record."""
    keys = sorted({str(k) for meta in metas for k in meta})
    return {key: meta_kind(meta.get(key) for meta in metas) for key in keys}


def _meta_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if kind == "float64":
        return float(value)
    return value


def columns_for(records: list[Record]) -> list[str]:
    """The exported columns (see module doc): messages always, the Alpaca view when it is lossless."""
    columns = ["id", "messages"]
    if all(r.is_single_turn and not r.is_preference for r in records):
        columns += list(FIELDS)
    columns += [name for name in PREFERENCE_COLUMNS if any(getattr(r, name) is not None for r in records)]
    return columns


def normalize_row(record: dict[str, Any], schema: dict[str, str] | None,
                  columns: list[str] | tuple[str, ...] = COLUMNS) -> dict[str, Any]:
    """One output row in the given column order; ``schema`` None drops meta."""
    canonical = Record.from_dict(record)
    row: dict[str, Any] = {"id": str(record.get("id") or "")}
    for name in columns:
        if name == "id":
            continue
        if name == "messages":
            row[name] = [{"role": m["role"], "content": m["content"]} for m in canonical.messages]
        elif name in FIELDS:
            row[name] = getattr(canonical, name)
        elif name in ("chosen", "rejected"):
            row[name] = getattr(canonical, name)
        elif name == "score":
            row[name] = None if canonical.score is None else float(canonical.score)
        elif name == "label":
            row[name] = None if canonical.label is None else bool(canonical.label)
    if schema:
        meta = record.get(META) or {}
        row[META] = {key: _meta_value(meta.get(key), kind) for key, kind in schema.items()}
    return row


def features_for(schema: dict[str, str] | None, names: list[str] | tuple[str, ...] = COLUMNS) -> Any:
    """The ``datasets.Features`` of the exported rows."""
    import datasets

    kinds = {"messages": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
             "score": datasets.Value("float64"), "label": datasets.Value("bool")}
    columns: dict[str, Any] = {name: kinds.get(name, datasets.Value("string")) for name in names}
    if schema:
        dtype = {"json": "string"}
        columns[META] = {key: datasets.Value(dtype.get(kind, kind)) for key, kind in schema.items()}
    return datasets.Features(columns)


# ---------------------------------------------------------------- splitting


def test_count(total: int, test_size: float) -> int:
    """Rows for the test split: a fraction (< 1) or a count (>= 1)."""
    if test_size < 0:
        raise UserError(f"test_size must be >= 0, got {test_size}")
    if test_size == 0:
        return 0
    if test_size >= 1 and test_size != int(test_size):
        raise UserError(f"test_size must be a fraction below 1 or a whole number of rows, got {test_size}")
    count = int(test_size) if test_size >= 1 else max(1, round(total * test_size))
    if count >= total:
        raise UserError(f"test_size {test_size} leaves no training rows ({total} accepted records)")
    return count


def split_rows(rows: list[dict[str, Any]], test_size: float, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Seeded train/test split; both keep the accepted file's order."""
    count = test_count(len(rows), test_size)
    if count == 0:
        return {"train": rows}
    test_indices = set(random.Random(seed).sample(range(len(rows)), count))
    return {
        "train": [r for i, r in enumerate(rows) if i not in test_indices],
        "test": [r for i, r in enumerate(rows) if i in test_indices],
    }


# ---------------------------------------------------------------- writing


def _write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="snappy")
    tmp.replace(path)


def _write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)




def _carry_user_files(previous: Path, folder: Path) -> None:
    """Everything but the data files survives into the next export (the card merges into the previous
    README.md, files a user put beside it stay); splits and views are rewritten, so no stale split survives."""
    import shutil

    if not previous.is_dir():
        return
    for path in previous.iterdir():
        if path.name == "views" or path.name == export_atomic.RECORD or OWNED_DATA_FILE.match(path.name):
            continue
        if path.is_file():
            shutil.copy2(path, folder / path.name)
        elif path.is_dir():
            shutil.copytree(path, folder / path.name)


def _dataset_info_yaml(dataset_dict: Any, folder: Path, data_files: dict[str, list[str]]) -> dict[str, Any]:
    """The ``dataset_info`` card entry, in the shape ``datasets`` itself writes."""
    features = next(iter(dataset_dict.values())).features
    splits = [
        {"name": name, "num_bytes": int(ds.data.nbytes), "num_examples": len(ds)}
        for name, ds in dataset_dict.items()
    ]
    download = sum((folder / f).stat().st_size for files in data_files.values() for f in files)
    return {
        "features": features._to_yaml_list(),
        "splits": splits,
        "download_size": download,
        "dataset_size": sum(s["num_bytes"] for s in splits),
    }


def export_run(
    run_dir: str | Path,
    *,
    test_size: float = 0.0,
    seed: int = 42,
    keep_meta: bool = True,
    formats: Iterable[str] = FORMATS,
    views: Iterable[str] = (),
) -> ExportSummary:
    """Write ``RUN/data/`` (see module doc) from ``RUN/accepted.jsonl`` and return what was written; ``views``
    adds renderings for other tools under ``data/views/`` (:mod:`factory.export_views`)."""
    import datasets

    from factory import card
    from factory.conversation_stats import summarize

    run_dir = Path(run_dir)
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UserError(f"export formats must be among {', '.join(FORMATS)}; got {', '.join(formats) or 'none'}")
    records = read_json_lines(run_dir / "accepted.jsonl")
    if not records:
        raise UserError(f"{run_dir / 'accepted.jsonl'}: no accepted records to export")
    for record in records:
        if not isinstance(record.get(META) or {}, dict):
            raise UserError(f"{run_dir / 'accepted.jsonl'}:{record['_line']}: 'meta' must be an object")
        record["id"] = record.get("id") or str(record["_line"])

    schema = meta_schema([r.get(META) or {} for r in records]) if keep_meta else None
    names = columns_for([Record.from_dict(r) for r in records])
    features = features_for(schema, names)
    split_records = split_rows(records, test_size, seed)

    final = run_dir / DATA_DIR
    export_atomic.recover(final)
    folder = export_atomic.staging_folder(final)  # built aside, swapped in whole: never a half export
    _carry_user_files(final, folder)

    dataset_dict = datasets.DatasetDict()
    data_files: dict[str, list[str]] = {}
    rows_by_split: dict[str, list[dict[str, Any]]] = {}
    for split, chosen in split_records.items():
        rows = [normalize_row(r, schema, names) for r in chosen]
        rows_by_split[split] = rows
        dataset = datasets.Dataset.from_list(rows, features=features, split=datasets.Split(split))
        dataset_dict[split] = dataset
        if "parquet" in formats:
            _write_parquet(dataset.data.table, folder / split_file_name(split, "parquet"))
        if "jsonl" in formats:
            _write_jsonl(rows, folder / split_file_name(split, "jsonl"))
        load_format = "parquet" if "parquet" in formats else "jsonl"
        data_files[split] = [split_file_name(split, load_format)]

    stats = secrets_scan.scrub(read_json(run_dir / "stats.json"))
    recipe = secrets_scan.scrub(read_yaml(run_dir / "recipe.yaml"))
    _write_side_files(folder, stats, recipe)
    views = tuple(views)
    if views:
        from factory.export_views import write_views

        write_views(views, {name: [Record.from_dict(r) for r in chosen] for name, chosen in split_records.items()}, folder)

    context = card.CardContext(
        stats=stats,
        recipe=recipe,
        splits={name: len(ds) for name, ds in dataset_dict.items()},
        data_files=data_files,
        meta_fields=dict(schema or {}),
        samples=rows_by_split["train"][:3],
        columns=list(features),
        dataset_info=_dataset_info_yaml(dataset_dict, folder, data_files),
        conversations=summarize([Record.from_dict(r) for r in records]),
        views=list(dict.fromkeys(views)),
    )
    card.write_card(folder, context)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    export_atomic.pause_point("export.before_record")
    export_atomic.write_record(folder, {"accepted": len(records), "splits": context.splits, "files": files})
    export_atomic.swap_in(folder, final)
    return ExportSummary(
        folder=final,
        splits=context.splits,
        columns=list(features),
        meta_fields=dict(schema or {}),
        files=files,
        card=final / "README.md",
        dataset=dataset_dict,
    )


def _write_side_files(folder: Path, stats: dict[str, Any], recipe: dict[str, Any]) -> None:
    """The secret-free recipe and stats travel next to the card."""
    import yaml

    if stats:
        text = json.dumps(stats, ensure_ascii=False, indent=2) + "\n"
        (folder / "stats.json").write_text(text, encoding="utf-8")
    if recipe:
        text = yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True)
        (folder / "recipe.yaml").write_text(text, encoding="utf-8")
