"""Load existing records (a local Alpaca file, or a Hub dataset when online)."""

from __future__ import annotations

from factory.context import RunContext, file_sha256
from factory.errors import UserError
from factory.formats import load_source
from factory.records import Record


class SourceStage:
    name = "source"

    def describe(self, ctx: RunContext) -> str:
        src = ctx.recipe.source
        return f"source: {src.path or src.hub_dataset}" + (f" (first {src.limit})" if src.limit else "")

    def run(self, ctx: RunContext) -> None:
        src = ctx.recipe.source
        if src.path:
            found = ctx.find_input(src.path, "source.path")
            records = load_source(found.path, src.format)
            ctx.seed_info = {"path": found.label, "sha256": file_sha256(found.path), "count": len(records)}
        else:
            records = self._load_hub(src.hub_dataset, src.split)
            ctx.seed_info = {"path": src.hub_dataset, "sha256": None, "count": len(records)}
        if src.limit:
            records = records[: src.limit]
        for index, record in enumerate(records):
            record.id = record.id or f"src-{index}"
            record.meta.setdefault("source_id", record.id)
        ctx.source_records = records

    @staticmethod
    def _load_hub(dataset_id: str, split: str) -> list[Record]:
        try:
            import datasets
        except ImportError:
            raise UserError("source.hub_dataset needs the `datasets` package (pip install datasets)") from None
        try:
            rows = datasets.load_dataset(dataset_id, split=split)
        except Exception as exc:  # offline, unknown id, gated dataset
            raise UserError(f"source.hub_dataset: could not load '{dataset_id}' ({type(exc).__name__}: {str(exc)[:200]}); "
                            "download it and set source.path instead") from None
        return [Record.from_dict({**row, "id": row.get("id") or f"{dataset_id}-{i}"}) for i, row in enumerate(rows)]
