"""``factory report RUN_DIR [-o report.html]``: an HTML report of a run folder's dataset."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="HTML file to write (default: RUN_DIR/report.html); figures go to <name>_files/ beside it.")
@click.option("--samples", type=click.IntRange(0, 10_000), default=20, show_default=True,
              help="Random samples shown, and most similar pairs listed.")
@click.option("--top-verbs", type=click.IntRange(1, 100), default=20, show_default=True,
              help="Root verbs on the sunburst's inner ring.")
@click.option("--top-objects", type=click.IntRange(1, 20), default=4, show_default=True,
              help="Direct objects shown under each verb.")
@click.option("--timings", is_flag=True, help="Print how long each phase took (to stderr).")
@click.option("--executor", "executor_name", metavar="NAME", default="local", show_default=True,
              help="Where the tokenization runs: local, or ray (analyser actors on a cluster).")
@click.option("--workers", type=click.IntRange(min=1), metavar="N", default=1, show_default=True,
              help="Worker processes (local) or analyser actors (ray) for the tokenization.")
def report_command(run_dir: str, output: str | None, samples: int, top_verbs: int, top_objects: int,
                   timings: bool, executor_name: str, workers: int) -> None:
    """Write an HTML report of RUN_DIR: verb/object sunburst, ROUGE-L similarity, lengths, rejections, cost."""
    from factory.contracts import Requirement, unmet
    from factory.errors import UserError
    from factory.report import build_report

    missing = unmet([Requirement(module="matplotlib", install="pip install 'koalpaca-factory[report]'",
                                 why="factory report")])
    if missing:
        raise UserError(missing[0])

    from pathlib import Path

    from factory import runlock
    from factory.executors import build_executor

    lock = runlock.shared(run_dir, purpose="report on") if (Path(run_dir) / "accepted.jsonl").exists() else None
    try:
        with build_executor(executor_name, workers=workers) as executor:
            result = build_report(run_dir, output, samples=samples, top_verbs=top_verbs, top_objects=top_objects,
                                  executor=executor)
    finally:
        if lock is not None:
            lock.release()
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if timings:
        width = max(map(len, result.timings), default=0)
        for phase, seconds in result.timings.items():
            click.echo(f"timing: {phase.ljust(width)}  {seconds:.2f} s", err=True)
    records = f"{result.records:,} record" + ("" if result.records == 1 else "s")
    click.echo(f"report: {result.html_path} ({records}, {len(result.figure_paths)} figures in "
               f"{result.html_path.stem}_files/, {result.seconds:.1f} s)")
