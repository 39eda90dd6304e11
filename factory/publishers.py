"""The publisher plugin contract: upload an exported run folder somewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol


@dataclass
class PublishResult:
    url: str
    commit: str | None  # None when nothing changed
    files: list[str]


class Publisher(Protocol):
    options_model: ClassVar[type]

    def publish(self, folder: Path, repo: str, *, private: bool = True, revision: str | None = None,
                dry_run_dir: Path | None = None) -> PublishResult:
        """Upload every file under ``folder`` (the exported tree) as one commit."""
