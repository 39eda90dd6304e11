"""Publish the exported dataset through the recipe's publisher plugin."""

from __future__ import annotations

from factory.context import RunContext


class PublishStage:
    name = "publish"

    def describe(self, ctx: RunContext) -> str:
        p = ctx.recipe.publish
        return f"publish: {p.plugin} -> {p.repo} ({'private' if p.private else 'public'})"

    def run(self, ctx: RunContext) -> None:
        p = ctx.recipe.publish
        publisher = ctx.loaded.plugin("publish").build()
        result = publisher.publish(ctx.run.data_dir, p.repo, private=p.private, revision=p.revision)
        state = "no change" if result.commit is None else f"commit {result.commit}"
        ctx.progress.log(f"published {len(result.files)} files to {result.url} ({state})")
