"""One SQLite table as a cache that survives a killed process: the part every factory cache shares.

Why: paid answers (teacher responses, translations) must never be paid for
twice, so each write is committed at once (autocommit) in WAL mode, which
also lets several runs read and write one file. One connection, guarded by a
lock, serves the event loop and any worker thread. Subclasses only add the
table's schema and their typed ``get``/``put``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, TypeVar

from factory.errors import UserError

_Self = TypeVar("_Self", bound="SQLiteCache")


class SQLiteCache:
    """A table ``table`` (created by ``schema`` when missing) in the SQLite file ``path``.

    ``busy_timeout_s``: how long a write waits for another process holding
    the file. ``synchronous``: the ``PRAGMA synchronous`` level, or None for
    SQLite's default. A file that cannot be opened, is not a database, is
    truncated or is a folder is one UserError naming it (moved aside first
    when :attr:`move_aside_when_damaged`), never a traceback mid-run.
    """

    table: str
    #: what the file is, for messages
    what: str = "cache"
    #: a damaged file is moved aside to ``NAME.corrupt-<time>`` (never deleted) when its content can be
    #: rebuilt (a response cache: answers are requested again); otherwise the user is told how to move it
    move_aside_when_damaged: bool = True
    #: the fix named when the file is not moved aside
    fix: str = "move it aside and rerun"

    def __init__(self, path: Path, schema: str, *, busy_timeout_s: float, synchronous: str | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.exists()
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                         timeout=busy_timeout_s)
            if existed:
                # a truncated or overwritten file may open and fail only at the first read, mid-run
                row = self._conn.execute("PRAGMA quick_check(1)").fetchone()
                if row is None or row[0] != "ok":
                    raise sqlite3.DatabaseError(f"integrity check: {row[0] if row else 'no answer'}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            if synchronous is not None:
                self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute(schema)
        except (sqlite3.DatabaseError, OSError) as exc:
            if self._conn is not None:
                self._conn.close()
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> UserError:
        """The one-line error for a file that cannot be used, moving it aside first where that is safe."""
        reason = str(exc) or type(exc).__name__
        damaged = self.path.is_dir() or (self.path.is_file() and os.access(self.path, os.R_OK | os.W_OK))
        if not damaged:
            return UserError(f"{self.path}: the {self.what} cannot be opened ({reason}); check the folder's "
                             "permissions and free space")
        if not self.move_aside_when_damaged:
            return UserError(f"{self.path}: the {self.what} is damaged ({reason}); {self.fix}")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.rename(self.path, aside)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.rename(side, aside.with_name(aside.name + suffix))
        return UserError(f"{self.path}: the {self.what} is damaged ({reason}); it was moved aside to {aside.name} "
                         f"(not deleted). Rerun the same command to go on with an empty {self.what} "
                         "(the answers it held are requested again)")

    def _fetch_one(self, sql: str, parameters: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            return self._conn.execute(sql, parameters).fetchone()

    def _write(self, sql: str, parameters: tuple[Any, ...]) -> None:
        with self._lock:
            self._conn.execute(sql, parameters)

    def __len__(self) -> int:
        row = self._fetch_one(f"SELECT COUNT(*) FROM {self.table}")
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
