"""Load the seed tasks that prompt generation and start the near-duplicate pool."""

from __future__ import annotations

from factory.context import RunContext, file_sha256
from factory.errors import UserError
from factory.records import load_records


class SeedStage:
    name = "seed"

    def _path(self, ctx: RunContext):
        method = ctx.recipe.method
        if method.seeds:
            return ctx.resolve_path(method.seeds)
        if not ctx.loaded.plugin("method").cls.needs_seeds:
            return None
        default = ctx.language.default_seeds
        if default is None:
            raise UserError(f"{ctx.loaded.path}: method.seeds: language '{ctx.recipe.language}' ships no seed set; name one")
        return default

    def describe(self, ctx: RunContext) -> str:
        return f"seed: {self._path(ctx) or 'none (the method needs no seed tasks)'}"

    def run(self, ctx: RunContext) -> None:
        path = self._path(ctx)
        if path is None:
            return
        ctx.seeds = load_records(path)
        if not ctx.seeds:
            raise UserError(f"{path}: no seed tasks")
        for record in ctx.seeds:
            record.meta.setdefault("source", "seed")
        ctx.seed_info = {"path": str(path), "sha256": file_sha256(path), "count": len(ctx.seeds)}
