"""The publisher plugin contract: upload an exported run folder somewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from factory.contracts import Plugin


@dataclass
class PublishResult:
    url: str
    commit: str | None  # None when nothing changed
    files: list[str]


class Publisher(Plugin):
    """Base class of publisher plugins; built as ``cls(options)`` from the recipe's ``publish`` section."""

    kind: ClassVar[str] = "publisher"

    def publish(self, folder: Path, repo: str, *, private: bool = True, revision: str | None = None,
                dry_run_dir: Path | None = None) -> PublishResult:
        """Upload every file under ``folder`` (the exported tree) as one commit."""
        raise NotImplementedError
