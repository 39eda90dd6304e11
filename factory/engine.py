"""Runs a plan: checks requirements, loads inputs, opens (or resumes) the run folder, runs each stage,
writes the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factory.context import RunContext
from factory.costs import Budget
from factory.errors import StopRun, UserError
from factory.manifest import RunManifest
from factory.plan import build_plan, fingerprint, plan_problems
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
    stats: RunManifest


@dataclass
class RunOptions:
    """How to run, beyond the recipe: flags of ``factory run``."""

    restart: bool = False
    quiet: bool = False
    #: commit a batch whose requests failed after every retry (as ``teacher_failed`` rejections) instead of stopping
    skip_failed: bool = False
    #: run again after an earlier run stopped because the teacher kept producing nothing new
    retry_stalled: bool = False
    #: executor plugin (``--executor``) over the recipe's ``executor:`` section; None: the recipe's, else local
    executor: str | None = None
    #: worker processes / actors for CPU-bound work (``--workers``)
    workers: int | None = None


def default_run_dir(loaded: LoadedRecipe) -> Path:
    return Path("runs") / loaded.recipe.name


def run_recipe(loaded: LoadedRecipe, out: str | Path | None = None, *, restart: bool = False,
               quiet: bool = False, options: RunOptions | None = None) -> RunOutcome:
    options = options or RunOptions(restart=restart, quiet=quiet)
    run = RunFolder(out or default_run_dir(loaded))
    progress = Progress(quiet=options.quiet)
    ctx = RunContext(loaded=loaded, run=run, progress=progress, budget=Budget(loaded.recipe.budget_usd))
    ctx.run_options = options
    plan = build_plan(loaded)
    problems = plan_problems(loaded, plan)  # packages and keys, before anything is paid
    if problems:
        raise UserError("; ".join(problems))
    from factory import runlock
    from factory.executors import executor_for

    # one writer per run folder for the whole run (released on any exit; see factory.runlock)
    with runlock.acquire(run.path, purpose="run") as lock:
        if lock.took_over:
            progress.log(f"note: {run.path} was locked by pid {lock.took_over.get('pid')}, which ended without "
                         "releasing it; taking over")
        from factory.runlog import RunLog

        with RunLog(run.path) as log:
            ctx.run_log = log
            ctx.executor = executor_for(loaded, options.executor, options.workers)
            try:
                ctx.executor.start()  # on the main thread (see Executor.start)
                return _run_locked(ctx, plan)
            except StopRun as exc:
                if log.has_warnings():  # the retries behind it are in the log (and on screen with -v)
                    exc.args = (f"{exc} (details: {log.path})",)
                raise
            finally:
                ctx.executor.close()


def _run_locked(ctx: RunContext, plan: list) -> RunOutcome:
    """The stages of ``plan``, in order, on ``ctx`` (whose executor the caller closes)."""
    loaded, run, options, progress = ctx.loaded, ctx.run, ctx.run_options, ctx.progress
    for stage in plan:
        if stage.name in INPUT_STAGES:
            stage.run(ctx)
    seed_sha = ctx.seed_info.get("sha256") if ctx.seed_info else None
    resumed = run.open(fingerprint(loaded, seed_sha), loaded.data, restart=options.restart)
    if options.restart and ctx.run_log is not None:
        ctx.run_log.reopen()
    legacy_usage = run.state.counters.get("usage") if isinstance(run.state.counters, dict) else None
    ctx.open_ledger(legacy_usage)
    ctx.restore_counters(run.state.counters)
    if resumed:
        progress.log(f"resuming {run.path}: {run.state.accepted} accepted, {run.state.rejected} rejected so far")
    progress.log("plan: " + " -> ".join(stage.name for stage in plan))
    for stage in plan:
        progress.log(f"  {stage.describe(ctx)}")
    try:
        for stage in plan:
            if stage.name in INPUT_STAGES:
                continue
            if stage.name in ("export", "publish", "train"):
                run.write_stats(build_stats(ctx, "in progress"))  # the card describes final data counts
            stage.run(ctx)
            run.mark_stage_done(stage.name, ctx.counters())
    except StopRun as exc:
        ctx.close_ledger()
        run.write_stats(build_stats(ctx, "stopped", stop_reason=str(exc).splitlines()[0][:500]))
        raise
    except BaseException:
        ctx.close_ledger()
        run.write_stats(build_stats(ctx, "stopped", stop_reason="interrupted"))
        raise
    ctx.close_ledger()
    stats = build_stats(ctx, "finished")
    run.write_stats(stats)
    return RunOutcome(ctx=ctx, resumed=resumed, stats=stats)
