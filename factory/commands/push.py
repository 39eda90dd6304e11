"""``factory push RUN_DIR --repo ORG/NAME``: publish a run's exported dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from factory.errors import UserError
from factory.publishers import PublishResult


@dataclass
class RunStatus:
    """How far a run folder's run got, from its state and manifest."""

    finished: bool
    accepted: int | None  # committed records (None for a folder without state.json)
    target: int | None
    status: str
    stop_reason: str | None

    def describe(self) -> str:
        of = f" of {self.target}" if self.target else ""
        reason = f": {self.stop_reason}" if self.stop_reason else ""
        return f"{self.accepted}{of} records, {self.status}{reason}"


def run_status(run_dir: Path) -> RunStatus | None:
    """The status of the run in ``run_dir`` (None when it is not a run folder)."""
    from factory.manifest import RunManifest
    from factory.runfolder import open_existing

    run_dir = Path(run_dir)
    if not (run_dir / "accepted.jsonl").exists():
        return None
    folder = open_existing(run_dir)
    accepted = folder.state.accepted if folder.state_path.exists() else None
    manifest = RunManifest.load(run_dir / "stats.json") if (run_dir / "stats.json").exists() else None
    if manifest is None:
        return RunStatus(False, accepted, None, "never finished (no stats.json)", None)
    return RunStatus(manifest.finished, accepted, manifest.target, manifest.status, manifest.stop_reason)


def mark_partial(folder: Path, scratch: Path, status: RunStatus) -> Path:
    """A copy of ``folder`` whose card opens with a notice that the run did not finish."""
    import shutil

    shutil.copytree(folder, scratch)
    card = scratch / "README.md"
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    notice = (f"> **Partial dataset.** The run that made it has not finished ({status.describe()}); "
              "it was published with `factory push --partial`.\n\n")
    head, sep, body = text.partition("\n---\n") if text.startswith("---\n") else ("", "", text)
    card.write_text(f"{head}{sep}\n{notice}{body.lstrip()}" if sep else notice + body, encoding="utf-8")
    return scratch


def publish_folder(run_dir: Path, *, partial: bool = False) -> Path:
    """The folder to publish: ``RUN/data`` (exported first when missing), or an exported folder itself.

    A run folder is published only when its run finished and its export is complete (the export
    record matches the journal), unless ``partial``: then the card says the dataset is partial.
    Publishing anything else could commit the deletion of the data already published.
    """
    run_dir = Path(run_dir)
    if (run_dir / "accepted.jsonl").exists():
        from factory import export_atomic

        folder = run_dir / "data"
        for note in export_atomic.recover(folder):
            click.echo(f"note: {note}", err=True)
        status = run_status(run_dir)
        if not status.finished and not partial:
            raise UserError(f"{run_dir}: the run is not finished ({status.describe()}); finish it with `factory run` "
                            "(same command: it resumes) or push it as is with --partial")
        if not folder.exists():
            from factory.export import export_run

            export_run(run_dir)
        export_atomic.check_complete(folder, status.accepted)
        return folder
    if (run_dir / "README.md").exists():
        return run_dir
    raise UserError(f"{run_dir}: neither a run folder (no accepted.jsonl) nor an exported dataset (no README.md)")


def push_run(run_dir: str | Path, repo: str, *, private: bool = True, revision: str | None = None,
             dry_run_dir: str | Path | None = None, publisher: str = "hub",
             options: dict[str, Any] | None = None, partial: bool = False) -> PublishResult:
    """Publish ``run_dir``'s dataset with the named publisher plugin, under a shared lock on the run folder."""
    import tempfile

    from factory import runlock
    from factory.plugins import get_plugin

    run_dir = Path(run_dir)
    is_run = (run_dir / "accepted.jsonl").exists()
    lock = runlock.shared(run_dir, purpose="push") if is_run else None
    try:
        folder = publish_folder(run_dir, partial=partial)
        cls = get_plugin("publisher", publisher)
        with tempfile.TemporaryDirectory(prefix="factory-partial-") as scratch:
            status = run_status(run_dir) if is_run else None
            if status is not None and not status.finished:
                folder = mark_partial(folder, Path(scratch) / "data", status)
            return cls(**(options or {})).publish(folder, repo, private=private, revision=revision,
                                                  dry_run_dir=Path(dry_run_dir) if dry_run_dir is not None else None)
    finally:
        if lock is not None:
            lock.release()


@click.command("push")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repo", required=True, metavar="ORG/NAME", help="Dataset repository to publish to.")
@click.option("--public", is_flag=True, help="Create the repository public (default: private).")
@click.option("--revision", metavar="BRANCH", help="Branch to commit to (created when missing).")
@click.option("--dry-run", "dry_run", type=click.Path(path_type=Path), metavar="DIR",
              help="Write the exact tree that would be uploaded into DIR (new or empty) and upload nothing.")
@click.option("--publisher", default="hub", show_default=True, help="Publisher plugin.")
@click.option("--partial", is_flag=True, help="Publish a run that has not finished; the card says it is partial.")
def push_command(run_dir: Path, repo: str, public: bool, revision: str | None, dry_run: Path | None,
                 publisher: str, partial: bool) -> None:
    """Publish RUN_DIR's dataset (data, card, recipe, stats) as one commit; unchanged runs make no commit.

    Refused while another command writes RUN_DIR, when its run is not finished (unless --partial) and
    when its export is incomplete."""
    result = push_run(run_dir, repo, private=not public, revision=revision, dry_run_dir=dry_run,
                      publisher=publisher, partial=partial)
    status = run_status(run_dir)
    if status is not None and not status.finished:
        click.echo(f"partial dataset ({status.describe()}); its card says so")
    if dry_run is not None:
        click.echo(f"dry run: {len(result.files)} file(s) written to {dry_run} (nothing uploaded)")
    elif result.commit is None:
        click.echo(f"{result.url}: already up to date ({len(result.files)} file(s)); no new commit")
    else:
        click.echo(f"{result.url}: committed {result.commit} ({len(result.files)} file(s))")
