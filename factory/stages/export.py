"""Export accepted records as a Hugging Face dataset folder with its card."""

from __future__ import annotations

import time

from factory.context import RunContext


class ExportStage:
    name = "export"

    def describe(self, ctx: RunContext) -> str:
        e = ctx.recipe.export
        split = f", test split {e.test_size:.0%}" if e.test_size else ""
        return f"export: {', '.join(e.formats)} under {ctx.run.data_dir}{split}"

    def requirements(self, loaded) -> list:
        from factory.contracts import Requirement

        install = "pip install 'koalpaca-factory[export]'"
        return [Requirement(module="datasets", install=install, why="export (export.enabled)"),
                Requirement(module="pyarrow", install=install, why="export (export.enabled)")]

    def run(self, ctx: RunContext) -> None:
        from factory.export import export_run

        started = time.monotonic()
        e = ctx.recipe.export
        export_run(ctx.run.path, test_size=e.test_size, seed=e.seed, keep_meta=e.keep_meta, formats=tuple(e.formats),
                   views=tuple(e.views))
        ctx.stage_seconds[self.name] = time.monotonic() - started
