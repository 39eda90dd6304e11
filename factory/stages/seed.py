"""Load the seed tasks that prompt generation and start the near-duplicate pool."""

from __future__ import annotations

from factory.context import RunContext, file_sha256
from factory.errors import UserError
from factory.paths import DEFAULT, Found
from factory.records import load_records


class SeedStage:
    name = "seed"

    def _find(self, ctx: RunContext) -> Found | None:
        """``method.seeds`` as factory.paths finds it; omitted, the language's packaged default set (or none,
        for a method that needs no seed tasks)."""
        if not ctx.recipe.method.seeds and not ctx.loaded.plugin("method").cls.needs_seeds:
            return None
        return ctx.find_input(ctx.recipe.method.seeds or DEFAULT, "method.seeds")

    def describe(self, ctx: RunContext) -> str:
        found = self._find(ctx)
        return f"seed: {found.label if found else 'none (the method needs no seed tasks)'}"

    def run(self, ctx: RunContext) -> None:
        found = self._find(ctx)
        if found is None:
            return
        ctx.seeds = load_records(found.path)
        if not ctx.seeds:
            raise UserError(f"{found.path}: no seed tasks")
        for record in ctx.seeds:
            record.meta.setdefault("source", "seed")
        ctx.seed_info = {"path": found.label, "sha256": file_sha256(found.path), "count": len(ctx.seeds)}
