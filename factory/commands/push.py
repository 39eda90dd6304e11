"""``factory push RUN_DIR --repo ORG/NAME``: publish a run's exported dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from factory.errors import UserError
from factory.publishers import PublishResult


def publish_folder(run_dir: Path) -> Path:
    """The folder to publish: ``RUN/data`` (exported first when missing), or an exported folder itself."""
    run_dir = Path(run_dir)
    if (run_dir / "accepted.jsonl").exists():
        folder = run_dir / "data"
        if not (folder / "README.md").exists():
            from factory.export import export_run

            export_run(run_dir)
        return folder
    if (run_dir / "README.md").exists():
        return run_dir
    raise UserError(f"{run_dir}: neither a run folder (no accepted.jsonl) nor an exported dataset (no README.md)")


def push_run(run_dir: str | Path, repo: str, *, private: bool = True, revision: str | None = None,
             dry_run_dir: str | Path | None = None, publisher: str = "hub",
             options: dict[str, Any] | None = None) -> PublishResult:
    """Publish ``run_dir``'s dataset with the named publisher plugin (the CLI and the ``publish:`` stage)."""
    from factory.plugins import get_plugin

    folder = publish_folder(Path(run_dir))
    cls = get_plugin("publisher", publisher)
    return cls(**(options or {})).publish(folder, repo, private=private, revision=revision,
                                          dry_run_dir=Path(dry_run_dir) if dry_run_dir is not None else None)


@click.command("push")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repo", required=True, metavar="ORG/NAME", help="Dataset repository to publish to.")
@click.option("--public", is_flag=True, help="Create the repository public (default: private).")
@click.option("--revision", metavar="BRANCH", help="Branch to commit to (created when missing).")
@click.option("--dry-run", "dry_run", type=click.Path(path_type=Path), metavar="DIR",
              help="Write the exact tree that would be uploaded into DIR (new or empty) and upload nothing.")
@click.option("--publisher", default="hub", show_default=True, help="Publisher plugin.")
def push_command(run_dir: Path, repo: str, public: bool, revision: str | None, dry_run: Path | None,
                 publisher: str) -> None:
    """Publish RUN_DIR's dataset (data, card, recipe, stats) as one commit; unchanged runs make no commit."""
    result = push_run(run_dir, repo, private=not public, revision=revision, dry_run_dir=dry_run,
                      publisher=publisher)
    if dry_run is not None:
        click.echo(f"dry run: {len(result.files)} file(s) written to {dry_run} (nothing uploaded)")
    elif result.commit is None:
        click.echo(f"{result.url}: already up to date ({len(result.files)} file(s)); no new commit")
    else:
        click.echo(f"{result.url}: committed {result.commit} ({len(result.files)} file(s))")
