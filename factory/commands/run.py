from __future__ import annotations

import click


@click.command("run")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe field (repeatable).")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default: runs/<recipe name>/).")
@click.option("--restart", is_flag=True, help="Start fresh; an existing run folder is moved aside, not deleted.")
@click.option("--estimate", is_flag=True, help="Print expected requests, tokens, characters and cost, then exit.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display; only errors and the final summary.")
@click.option("--skip-failed", is_flag=True,
              help="Commit batches whose requests failed after every retry (as teacher_failed) instead of stopping.")
@click.option("--retry-stalled", is_flag=True,
              help="Go on after an earlier run stopped because the teacher kept producing nothing new.")
@click.option("--executor", "executor", metavar="NAME",
              help="Where CPU-bound work runs: local (default) or ray; overrides the recipe's executor section.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Worker processes (local) or shard/analyser actors (ray) for CPU-bound work.")
def run_command(recipe: str, overrides: tuple[str, ...], out: str | None, restart: bool, estimate: bool, quiet: bool,
                skip_failed: bool, retry_stalled: bool, executor: str | None, workers: int | None) -> None:
    """Run RECIPE. Rerunning the same command resumes: finished work is not redone."""
    from factory.engine import RunOptions, default_run_dir, run_recipe
    from factory.recipe import load_recipe

    loaded = load_recipe(recipe, list(overrides))
    if estimate:
        from factory.estimate import estimate_recipe

        result = estimate_recipe(loaded, out or default_run_dir(loaded))
        click.echo(f"estimate for {recipe} (nothing was sent):")
        width = max(len(label) for label, _ in result.lines)
        for label, value in result.lines:
            click.echo(f"  {label.ljust(width)}  {value}")
        return
    options = RunOptions(restart=restart, quiet=quiet, skip_failed=skip_failed, retry_stalled=retry_stalled,
                         executor=executor, workers=workers)
    outcome = run_recipe(loaded, out, options=options)
    from factory.summary import print_summary

    print_summary(outcome)
