"""The local tree to publish and how it differs from the remote one.

Comparing content hashes ourselves (git blob sha1 for regular files, sha256
for LFS ones, exactly what the Hub's tree listing reports) is what makes a
re-push of an unchanged export a no-op instead of an empty commit.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from factory.errors import UserError
from factory.export import OWNED_DATA_FILE


@dataclass(frozen=True)
class LocalFile:
    path: str  # POSIX path inside the repo
    source: Path
    size: int
    sha256: str
    git_sha1: str


def _hashes(path: Path) -> tuple[int, str, str]:
    data = path.read_bytes()
    git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return len(data), hashlib.sha256(data).hexdigest(), git


def local_tree(folder: Path) -> list[LocalFile]:
    """Every file under ``folder``, sorted; dot-files and dot-folders (caches, editors) are left out."""
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        size, sha256, git_sha1 = _hashes(path)
        files.append(LocalFile(relative.as_posix(), path, size, sha256, git_sha1))
    return files


def is_unchanged(local: LocalFile, remote: Any) -> bool:
    """``remote`` is a ``huggingface_hub.hf_api.RepoFile`` at the same path."""
    lfs = getattr(remote, "lfs", None)
    if lfs is not None:
        return getattr(lfs, "sha256", None) == local.sha256
    return getattr(remote, "blob_id", None) == local.git_sha1


def plan_commit(local: Iterable[LocalFile], remote: dict[str, Any]) -> tuple[list[LocalFile], list[str]]:
    """``(files to upload, remote paths to delete)``.

    Only stale *data files* are deleted (a split the new export no longer
    has); anything else on the remote (``.gitattributes``, files a person
    added) stays.
    """
    local = list(local)
    changed = [f for f in local if f.path not in remote or not is_unchanged(f, remote[f.path])]
    names = {f.path for f in local}
    stale = sorted(p for p in remote if p not in names and OWNED_DATA_FILE.match(p))
    return changed, stale


def write_tree(files: Iterable[LocalFile], target: Path) -> None:
    """Copy ``files`` into an empty (or new) ``target`` folder, byte for byte."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target}: the dry-run folder must be new or empty")
    target.mkdir(parents=True, exist_ok=True)
    for item in files:
        destination = target / item.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, destination)
