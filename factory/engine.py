"""Runs a plan: loads inputs, opens (or resumes) the run folder, runs each stage, writes stats."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factory.context import RunContext
from factory.costs import Budget
from factory.errors import StopRun
from factory.plan import build_plan, fingerprint
from factory.progress import Progress
from factory.recipe import LoadedRecipe
from factory.runfolder import RunFolder
from factory.stats import build_stats

#: stages that load inputs; they always run and are not journaled
INPUT_STAGES = {"seed", "source"}


@dataclass
class RunOutcome:
    ctx: RunContext
    resumed: bool
    stats: dict


def default_run_dir(loaded: LoadedRecipe) -> Path:
    return Path("runs") / loaded.recipe.name


def run_recipe(loaded: LoadedRecipe, out: str | Path | None = None, *, restart: bool = False,
               quiet: bool = False) -> RunOutcome:
    run = RunFolder(out or default_run_dir(loaded))
    progress = Progress(quiet=quiet)
    ctx = RunContext(loaded=loaded, run=run, progress=progress, budget=Budget(loaded.recipe.budget_usd))
    plan = build_plan(loaded)
    for stage in plan:
        if stage.name in INPUT_STAGES:
            stage.run(ctx)
    seed_sha = ctx.seed_info.get("sha256") if ctx.seed_info else None
    resumed = run.open(fingerprint(loaded, seed_sha), loaded.data, restart=restart)
    ctx.restore_counters(run.state.counters)
    if resumed:
        progress.log(f"resuming {run.path}: {run.state.accepted} accepted, {run.state.rejected} rejected so far")
    progress.log("plan: " + " -> ".join(stage.name for stage in plan))
    for stage in plan:
        progress.log(f"  {stage.describe(ctx)}")
    finished = False
    try:
        for stage in plan:
            if stage.name in INPUT_STAGES:
                continue
            if stage.name in ("export", "publish", "train"):
                run.write_stats(build_stats(ctx, finished=True))  # the card describes final data counts
            stage.run(ctx)
            run.mark_stage_done(stage.name, ctx.counters())
        finished = True
    except StopRun:
        run.write_stats(build_stats(ctx, finished=False))
        raise
    stats = build_stats(ctx, finished=finished)
    run.write_stats(stats)
    return RunOutcome(ctx=ctx, resumed=resumed, stats=stats)
