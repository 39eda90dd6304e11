"""Load existing records: local files (JSON/JSONL/Parquet, dataset folders) or Hub datasets, one source or a mix.

With ``sources:`` each record keeps its source's name in ``meta.source_name``, and a source's ``weight`` keeps a
seeded share of it. With ``conversations:`` the records are cleaned here, over the whole source (deterministic,
so a resumed run sees the same list); the ones cleaning rejects stay in the list, in order, with their verdict
in ``ctx.source_rejections``, and reach ``rejected.jsonl`` with their batch.
"""

from __future__ import annotations

import hashlib
import random

from factory.context import RunContext, file_sha256
from factory.errors import UserError
from factory.formats import RowError, load_source, row_to_record
from factory.records import Record


class SourceStage:
    name = "source"

    def requirements(self, loaded) -> list:
        conversations = loaded.recipe.conversations
        if conversations is not None and conversations.html_to_markdown:
            from factory.conversations import REQUIREMENT

            return [REQUIREMENT]
        return []

    def describe(self, ctx: RunContext) -> str:
        parts = []
        for src in ctx.recipe.source_list():
            text = str(src.path or src.hub_dataset) + (f" (first {src.limit})" if src.limit else "")
            weight = getattr(src, "weight", 1.0)
            parts.append(text + (f" x{weight:g}" if weight != 1.0 else ""))
        text = "source: " + ", ".join(parts)
        if ctx.recipe.conversations:
            text += "; conversations cleaned"
        return text

    def run(self, ctx: RunContext) -> None:
        recipe = ctx.recipe
        mixed = recipe.sources is not None
        lenient = "reject" if recipe.conversations else "raise"
        records: list[Record] = []
        infos = []
        for index, src in enumerate(recipe.source_list()):
            where = f"sources.{index}.path" if mixed else "source.path"
            if src.path:
                found = ctx.find_input(src.path, where)
                items = load_source(found.path, src.format, on_error=lenient)
                info = {"path": found.label, "sha256": file_sha256(found.path), "count": len(items)}
                default_name = found.path.stem
            else:
                items = self._load_hub(src.hub_dataset, src.split, lenient)
                info = {"path": src.hub_dataset, "sha256": None, "count": len(items)}
                default_name = src.hub_dataset
            if src.limit:
                items = items[: src.limit]
            weight = getattr(src, "weight", 1.0)
            if weight < 1.0:
                rng = random.Random(f"{recipe.seed}:source:{index}")
                chosen = sorted(rng.sample(range(len(items)), round(len(items) * weight)))
                items = [items[i] for i in chosen]
            if mixed:
                name = src.name or default_name
                for record in items:
                    record.meta["source_name"] = name
                info.update({"name": name, "used": len(items), "weight": weight})
            infos.append(info)
            records += items
        _unique_ids(records)
        for record in records:
            record.meta.setdefault("source_id", record.id)
        if recipe.conversations:
            records = self._clean(ctx, records)
        if len(infos) == 1:
            ctx.seed_info = infos[0]
        else:
            digest = hashlib.sha256("".join(str(i["sha256"]) for i in infos).encode()).hexdigest()
            ctx.seed_info = {"path": ", ".join(i["path"] for i in infos), "sha256": digest,
                             "count": sum(i["used"] for i in infos), "sources": infos}
        ctx.source_records = records

    @staticmethod
    def _clean(ctx: RunContext, records: list[Record]) -> list[Record]:
        """Conversation cleaning: kept records and rejected ones, in source order (a split one at its place)."""
        from factory.conversations import clean_conversations

        result = clean_conversations(records, ctx.recipe.conversations, ctx.language)
        ordered: list[Record] = []
        verdicts = []
        for record, parts, verdict in result.items:
            ordered += [record] if verdict is not None else parts
            verdicts += [verdict] if verdict is not None else [None] * len(parts)
        _unique_ids(ordered)  # a part's id (x-part2) may be taken by another record
        for record, verdict in zip(ordered, verdicts):
            if verdict is not None:
                ctx.source_rejections[record.id] = verdict
        return ordered

    @staticmethod
    def _load_hub(dataset_id: str, split: str, on_error: str = "raise") -> list[Record]:
        try:
            import datasets
        except ImportError:
            raise UserError("source.hub_dataset needs the `datasets` package (pip install datasets)") from None
        try:
            rows = datasets.load_dataset(dataset_id, split=split)
        except Exception as exc:  # offline, unknown id, gated dataset
            raise UserError(f"source.hub_dataset: could not load '{dataset_id}' ({type(exc).__name__}: {str(exc)[:200]}); "
                            "download it and set source.path instead") from None
        records = []
        for i, row in enumerate(rows):
            row = {k: v for k, v in row.items() if v is not None}
            try:
                record = row_to_record(row) if "messages" in row or "conversations" in row else Record.from_dict(row)
            except RowError as exc:
                if on_error != "reject":
                    raise UserError(f"source.hub_dataset: {dataset_id} row {i}: {exc}") from None
                record = Record(id=str(row.get("id", "") or ""),
                                meta={"row_error": str(exc), "source_line": f"row {i}", "raw": row})
            record.id = record.id or f"{dataset_id}-{i}"
            records.append(record)
        return records


def _unique_ids(records: list[Record]) -> None:
    """Ids unique across the sources (the journal and resume key on them): a repeated id gets a suffix."""
    seen: set[str] = set()
    for record in records:
        base, n = record.id, 1
        while record.id in seen:
            n += 1
            record.id = f"{base}~{n}"
        seen.add(record.id)
