"""Export views: the same records in the shapes other tools train from, written beside the dataset.

The dataset itself (``RUN/data/*.parquet|jsonl``) always holds the canonical
``messages`` column (plus the Alpaca columns when every record is single-turn).
A view is an extra rendering a recipe asks for with ``export.views`` (TRL's
preference format, ShareGPT, a LLaMA-Factory ``dataset_info.json`` entry ...),
written under ``RUN/data/views/<view>/``. A view module registers itself with
:func:`register_view`; :data:`VIEW_MODULES` says which module holds which view,
so a view loads only when a recipe asks for it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from factory.errors import UserError
from factory.records import Record

#: records of each split (``train``, ``test``), in the dataset's order
Splits = dict[str, list[Record]]


@dataclass(frozen=True)
class View:
    name: str
    description: str
    #: writes the view's files into the folder given; returns their paths relative to it
    write: Callable[[Splits, Path], list[str]]


VIEWS: dict[str, View] = {}
#: view name -> module that registers it (imported when a recipe names the view)
VIEW_MODULES: dict[str, str] = {
    **{name: "factory.conversation_views" for name in ("messages", "sharegpt", "llama-factory", "axolotl")},
    **{name: "factory.preference_views" for name in ("trl-preference", "trl-preference-plain", "trl-unpaired",
                                                     "llama-factory-ranking")},
}


def register_view(view: View) -> None:
    VIEWS[view.name] = view


def view_names() -> list[str]:
    return sorted({*VIEWS, *VIEW_MODULES})


def get_view(name: str) -> View:
    if name not in VIEWS and name in VIEW_MODULES:
        importlib.import_module(VIEW_MODULES[name])
    if name not in VIEWS:
        raise UserError(f"export.views: unknown view '{name}' (known: {', '.join(view_names()) or 'none'})")
    return VIEWS[name]


def write_views(names: Sequence[str], splits: Splits, folder: Path) -> list[str]:
    """Write each named view under ``folder/views/<name>/``; paths of every file written, relative to ``folder``."""
    written: list[str] = []
    for name in dict.fromkeys(names):
        view = get_view(name)
        target = folder / "views" / name
        target.mkdir(parents=True, exist_ok=True)
        written += [f"views/{name}/{path}" for path in view.write(splits, target)]
    return written


def write_split_rows(splits: Splits, folder: Path, rows_of: Callable[[Record], list[dict]], *,
                     skip_empty: bool = False) -> list[str]:
    """``<split>.jsonl`` per split with the rows ``rows_of`` makes of each record (none, one or several);
    ``skip_empty`` leaves out a split other than train that has no rows. Returns the files written."""
    written = []
    for split, records in splits.items():
        rows = [row for record in records for row in rows_of(record)]
        if rows or split == "train" or not skip_empty:
            write_jsonl_rows(rows, folder / f"{split}.jsonl")
            written.append(f"{split}.jsonl")
    return written


def write_jsonl_rows(rows: Sequence[dict], path: Path) -> None:
    """One JSON object a line, UTF-8 (a helper for views)."""
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
