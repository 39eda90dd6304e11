"""Atomic replacement of ``RUN/data/``: an export is built in a fresh sibling folder and swapped in.

Removing the old split files before writing the new ones left, for the second
or so a large export takes, a ``data/`` holding only the card; a push in that
state committed the deletion of the published data. Now the export is written
into ``RUN/data.new-<pid>/``, completed with an export record
(``.export.json``: counts and ``finished: true``, written last), then
exchanged with ``data/`` in one ``renameat2(RENAME_EXCHANGE)`` where the
kernel has it, or by two renames otherwise (old to ``data.old-<pid>``, new to
``data``). A kill at any instant leaves the old or the new export; the one
window of the fallback (between its two renames) is repaired by
:func:`recover`, which every reader of ``data/`` calls first.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from factory.errors import UserError

RECORD = ".export.json"
NEW_PREFIX = "data.new-"
OLD_PREFIX = "data.old-"


def pause_point(name: str) -> None:
    """Tests kill a process at a named instant: ``FACTORY_PAUSE_AT=name`` touches
    ``FACTORY_PAUSE_MARKER`` and sleeps there. A no-op otherwise."""
    if name not in os.environ.get("FACTORY_PAUSE_AT", "").split(","):
        return
    marker = os.environ.get("FACTORY_PAUSE_MARKER")
    if marker:
        Path(marker).write_text(name, encoding="utf-8")
    time.sleep(float(os.environ.get("FACTORY_PAUSE_SECONDS", "60")))


def staging_folder(folder: Path) -> Path:
    """A fresh, empty sibling of ``folder`` to write the next export into."""
    staging = folder.with_name(f"{NEW_PREFIX}{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def write_record(staging: Path, record: dict[str, Any]) -> None:
    """The export record, written last: its presence with ``finished`` means every file is complete."""
    from factory.runfolder import atomic_write_json

    atomic_write_json(staging / RECORD, {**record, "finished": True, "written_at": time.time()})
    _fsync_dir(staging)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the kernel or libc lacks it."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def swap_in(staging: Path, folder: Path) -> None:
    """Make ``staging`` the new ``folder``; the old one is removed only once the new one is in place."""
    pause_point("export.before_swap")
    if folder.exists() and _exchange(staging, folder):
        pause_point("export.after_swap")
        shutil.rmtree(staging, ignore_errors=True)  # now holds the old export
    elif folder.exists():
        old = folder.with_name(f"{OLD_PREFIX}{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.rename(folder, old)
        pause_point("export.between_renames")
        os.rename(staging, folder)
        pause_point("export.after_swap")
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, folder)
    _fsync_dir(folder.parent)


def recover(folder: Path) -> list[str]:
    """Repair what a kill during an export left: restore ``data/`` from ``data.old-*`` when it is missing,
    drop unfinished ``data.new-*`` and leftover ``data.old-*``. Returns notes on what was done."""
    parent = folder.parent
    if not parent.is_dir():
        return []
    notes: list[str] = []
    olds = sorted((p for p in parent.glob(f"{OLD_PREFIX}*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    news = [p for p in parent.glob(f"{NEW_PREFIX}*") if p.is_dir()]
    if not folder.exists():
        finished_new = [p for p in news if (read_record(p) or {}).get("finished")]
        if finished_new:  # killed after the old was moved away: the new one is complete, finish the swap
            os.rename(finished_new[-1], folder)
            notes.append(f"{folder}: completed an export interrupted while it was being swapped in")
        elif olds:
            os.rename(olds[-1], folder)
            olds = olds[:-1]
            notes.append(f"{folder}: restored the previous export (an export was interrupted)")
    for path in [*olds, *(p for p in news if p.exists() and p != folder)]:
        if _writer_alive(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
    return notes


def _writer_alive(path: Path) -> bool:
    """A staging folder of a process still running (``data.new-<pid>``) is not ours to remove."""
    from factory.runlock import pid_alive

    try:
        pid = int(path.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False
    return pid != os.getpid() and pid_alive(pid)


def read_record(folder: Path) -> dict[str, Any] | None:
    """The export record of ``folder``, or None when there is none (or it is not one)."""
    try:
        value = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def check_complete(folder: Path, accepted: int | None) -> dict[str, Any]:
    """The record of a complete export of ``accepted`` records; a UserError naming what is wrong otherwise."""
    record = read_record(folder)
    rerun = "rerun `factory run` on the recipe (it exports again, nothing is regenerated)"
    if record is None or not record.get("finished"):
        raise UserError(f"{folder}: the export is incomplete (no finished {RECORD} record); {rerun}")
    missing = [name for name in record.get("files", []) if not (folder / name).is_file()]
    if missing:
        raise UserError(f"{folder}: the export is incomplete ({missing[0]} is missing); {rerun}")
    if accepted is not None and record.get("accepted") != accepted:
        raise UserError(f"{folder}: the export holds {record.get('accepted')} records but the journal has "
                        f"{accepted}; {rerun}")
    return record
