from __future__ import annotations

import click


def reproducing_args(overrides: tuple[str, ...], out: str | None, data: str | None, quiet: bool) -> list[str]:
    """The arguments after RECIPE that make another ``factory train`` resolve exactly this one's job.

    ``--print-launch`` hands them to every process the launcher starts; dropping one would
    train other data, with other settings, into another folder, without a word.
    """
    args: list[str] = []
    if data:
        args += ["--data", data]
    for override in overrides:
        args += ["--set", override]
    if out:
        args += ["--out", out]
    if quiet:
        args.append("--quiet")
    return args


@click.command("train")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe field (repeatable).")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default: runs/<recipe name>/).")
@click.option("--data", help="Train on this JSON/JSONL file of records (messages, Alpaca, ShareGPT, TRL preference...) or run folder (sets train.data).")
@click.option("--print-launch", is_flag=True, help="Print the exact multi-GPU launch command (with every argument given here) and exit.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
def train_command(recipe: str, overrides: tuple[str, ...], out: str | None, data: str | None, print_launch: bool, quiet: bool) -> None:
    """Finetune as RECIPE's train section says, on the recipe's own dataset or --data."""
    import shlex
    from pathlib import Path

    from factory.context import RunContext
    from factory.costs import Budget
    from factory.engine import default_run_dir
    from factory.errors import UserError
    from factory.progress import Progress
    from factory.recipe import load_recipe
    from factory.runfolder import RunFolder
    from factory.stages.train import build_job, write_train_metrics

    # --data is typed relative to where the user stands, not to the recipe's folder
    extra = [f"train.data={Path(data).absolute()}"] if data else []
    loaded = load_recipe(recipe, list(overrides) + extra)
    if loaded.recipe.train is None:
        raise UserError(f"{recipe}: no train section")
    run = RunFolder(out or default_run_dir(loaded))
    ctx = RunContext(loaded=loaded, run=run, progress=Progress(quiet=quiet), budget=Budget(None))
    trainer = loaded.plugin("train").build()
    if print_launch:
        job = build_job(ctx) if (loaded.recipe.train.data or run.accepted_path.exists()) else None
        if job is None:
            from factory.trainers import TrainJob

            job = TrainJob(data_files=[], output_dir=run.path / "train", options=loaded.plugin("train").options,
                           language=ctx.language)
        command = trainer.launch_command(job, recipe, reproducing_args(overrides, out, data, quiet))
        click.echo(shlex.join(command))
        return
    from contextlib import ExitStack

    from factory import runlock

    with ExitStack() as locks:
        locks.enter_context(runlock.acquire(run.path, purpose="train into"))
        source = Path(loaded.recipe.train.data) if loaded.recipe.train.data else None
        if source is not None and source.is_dir() and (source / "accepted.jsonl").exists():
            locks.enter_context(runlock.shared(source, purpose="train on"))  # no writer mid-commit
        job = build_job(ctx)
        result = trainer.train(job)
        write_train_metrics(run.path, result.metrics)
    click.echo(f"model: {result.output_dir}")
    for key, value in result.metrics.items():
        click.echo(f"  {key}: {value}")
