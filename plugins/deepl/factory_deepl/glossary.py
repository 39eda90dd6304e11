"""Glossaries from a recipe's TSV/CSV file, created on the DeepL server once and reused.

DeepL keeps glossaries server-side, and an account may hold only a limited
number of them, so a run must not create a new copy each time: the glossary
gets a name derived from its entries, and an existing glossary with that name,
languages and entries is reused.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

from factory.errors import UserError


def load_glossary_file(path: str | Path) -> dict[str, str]:
    """``source<TAB>target`` (.tsv) or ``source,target`` (.csv) lines; an optional ``source,target`` header."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: glossary file not found (translate.glossary)")
    text = path.read_text(encoding="utf-8-sig")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in first else ","
    entries: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise UserError(f"{path}:{number}: expected 'source{delimiter!r}target' with both terms non-empty")
        source, target = row[0].strip(), row[1].strip()
        if number == 1 and (source.lower(), target.lower()) == ("source", "target"):
            continue
        if any(ch in term for term in (source, target) for ch in "\t\n\r"):
            raise UserError(f"{path}:{number}: glossary terms may not contain tabs or line breaks")
        if source in entries:
            raise UserError(f"{path}:{number}: source term {source!r} appears twice")
        entries[source] = target
    if not entries:
        raise UserError(f"{path}: the glossary has no entries")
    return entries


def entries_digest(entries: dict[str, str]) -> str:
    blob = "\n".join(f"{s}\t{t}" for s, t in sorted(entries.items()))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def glossary_name(path: str | Path, entries: dict[str, str]) -> str:
    """A name that changes whenever the entries change, so an edited file makes a new glossary."""
    return f"factory-{Path(path).stem}-{entries_digest(entries)}"


def ensure_glossary(client: Any, name: str, source: str, target: str, entries: dict[str, str]) -> str:
    """The id of a server glossary with this name, language pair and entries, created if none exists."""
    source, target = source.upper(), target.upper()
    for info in client.list_glossaries():
        if info.name != name or info.source_lang.upper() != source or info.target_lang.upper() != target:
            continue
        if info.entry_count == len(entries) and client.get_glossary_entries(info) == entries:
            return str(info.glossary_id)
    return str(client.create_glossary(name, source, target, entries).glossary_id)
