"""One writer per run folder: an ``flock`` on ``RUN/.lock`` that names its holder.

Two ``factory run`` commands on one folder would both append to the journal
(duplicated records, requests paid twice). The writer (``run``, ``train`` into a
run folder) takes an exclusive lock for the whole command; readers (``report``,
``push``, ``train --data RUN``) take a shared one, so they never read a journal
or an export half-written. Locks are never waited for: a second command gets
one line naming the holder and exits.

``flock`` is released by the kernel when its holder dies (even on SIGKILL), so a
lock file left by a dead process is simply taken over; the holder information
written into it (pid, host, command, start time) only serves the message.
Locks already held by this process are re-entrant (the ``publish`` and
``train`` stages of a run read the folder their own run holds).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.errors import UserError

LOCK_NAME = ".lock"

#: resolved run folder -> lock this process holds on it
_HELD: dict[Path, "RunLock"] = {}


class RunLocked(UserError):
    """Another process holds the run folder."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_text(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    started = info.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    text = f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {when} ({info.get('command', '?')})"
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int) and not pid_alive(info["pid"]):
        text += "; that pid has exited, so a process it started still holds the lock"
    return text


def read_holder(folder: str | Path) -> dict[str, Any]:
    """The holder information of ``folder``'s lock file (``{}`` when none or unreadable)."""
    try:
        value = json.loads((Path(folder) / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class RunLock:
    """A held lock; :meth:`release` (or leaving the ``with`` block) gives it back."""

    folder: Path
    fd: int
    exclusive: bool
    took_over: dict[str, Any] | None = None  # holder info of a dead process whose lock file was found
    depth: int = 1

    def release(self) -> None:
        self.depth -= 1
        if self.depth > 0:
            return
        _HELD.pop(self.folder, None)
        self._drop(self.fd)

    def _drop(self, fd: int) -> None:
        import fcntl

        try:
            if self.exclusive:
                os.ftruncate(fd, 0)  # holder info left behind would mean "died holding it"
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            os.close(fd)

    def relocate(self) -> None:
        """After the locked folder was moved aside (``--restart``): lock the new folder at the old path,
        then let go of the moved one, so no other run slips in between."""
        fd = _lock_fd(self.folder, self.exclusive, "start")
        self._drop(self.fd)
        self.fd = fd

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(folder: str | Path, *, exclusive: bool = True, purpose: str = "") -> RunLock:
    """Lock ``folder`` (created when an exclusive lock is asked for) without waiting.

    Raises :class:`RunLocked` with one line naming the holder when another process holds it
    (exclusively, or at all when ``exclusive``).
    """
    folder = Path(folder)
    key = folder.resolve()
    held = _HELD.get(key)
    if held is not None:
        if exclusive and not held.exclusive:
            raise RunLocked(f"{folder}: this process reads the run folder and cannot also write it")
        held.depth += 1
        return held
    if exclusive:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise UserError(f"{folder}: no such run folder")
    previous = read_holder(folder)
    lock = RunLock(folder=key, fd=_lock_fd(folder, exclusive, purpose), exclusive=exclusive)
    if exclusive and previous.get("pid"):
        lock.took_over = previous  # its holder died holding it (a clean exit empties the file)
    _HELD[key] = lock
    return lock


def _lock_fd(folder: Path, exclusive: bool, purpose: str) -> int:
    import fcntl

    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exclusive:
            raise UserError(f"{path}: cannot create the run folder's lock file ({exc.strerror})") from None
        return os.open(folder, os.O_RDONLY)  # a read-only folder: nobody writes it through factory
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        info = read_holder(folder)
        holder = _holder_text(info) if info else ("another factory command" if exclusive else "a factory writer")
        doing = purpose or ("write to" if exclusive else "read")
        raise RunLocked(f"{folder}: in use by {holder}; wait for it to finish (or stop it) before you {doing} "
                        f"this run folder") from None
    if exclusive:
        from factory.secrets_scan import redact

        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "command": redact(" ".join(["factory", *sys.argv[1:]]))[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
    return fd


def held(folder: str | Path) -> RunLock | None:
    """The lock this process holds on ``folder``, if any."""
    return _HELD.get(Path(folder).resolve())


def shared(folder: str | Path, purpose: str = "") -> RunLock:
    """A reader's lock: refused while a writer holds the folder."""
    return acquire(folder, exclusive=False, purpose=purpose)
