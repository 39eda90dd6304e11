"""The one-screen summary printed at the end of a run."""

from __future__ import annotations

import click

from factory.filtering import all_reasons


def print_summary(outcome) -> None:
    ctx, stats = outcome.ctx, outcome.stats
    run = ctx.run
    lines = [f"run folder: {run.path}"]
    if ctx.recipe.is_data_recipe:
        target = f" (target {stats.target})" if stats.target else ""
        lines.append(f"kept: {stats.accepted}{target}   rejected: {stats.rejected}")
        reasons = all_reasons()
        for reason, count in stats.rejections.items():
            lines.append(f"  {reason:<24} {count:>6}  {reasons.get(reason, '')}")
        totals = stats.totals
        estimated = f" (+${totals.estimated_usd:.4f} estimated, in flight when a run was killed)" if totals.estimated_usd else ""
        lines.append(
            f"teacher: {totals.requests} requests ({totals.cached_requests} from cache, {totals.failed_requests} failed), "
            f"{totals.prompt_tokens + totals.completion_tokens:,} tokens; translator: {totals.billed_characters:,} billed "
            f"characters; cost ${totals.cost_usd:.4f}{estimated}"
        )
        if ctx.recipe.export.enabled and run.data_dir.exists():
            lines.append(f"dataset: {run.data_dir}  (datasets.load_dataset(\"{run.data_dir}\"))")
        lines.append("next:")
        lines.append(f"  factory report {run.path}            # look at the data before training on it")
        lines.append(f"  factory push {run.path} --repo ORG/NAME   # publish to the Hugging Face Hub (private by default)")
    if ctx.recipe.train:
        trained = ctx.provenance.train or {}
        model_dir = trained.get("metrics", {}).get("model_dir") or trained.get("output_dir")
        if model_dir:
            lines.append(f"finetuned student: {model_dir}  (metrics in {run.path / 'train_metrics.json'})")
    click.echo("\n".join(lines))
