"""One SQLite table as a cache that survives a killed process: the part every factory cache shares.

Why: paid answers (teacher responses, translations) must never be paid for
twice, so each write is committed at once (autocommit) in WAL mode, which
also lets several runs read and write one file. One connection, guarded by a
lock, serves the event loop and any worker thread. Subclasses only add the
table's schema and their typed ``get``/``put``.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, TypeVar

_Self = TypeVar("_Self", bound="SQLiteCache")


class SQLiteCache:
    """A table ``table`` (created by ``schema`` when missing) in the SQLite file ``path``.

    ``busy_timeout_s``: how long a write waits for another process holding
    the file. ``synchronous``: the ``PRAGMA synchronous`` level, or None for
    SQLite's default. Opening errors (``sqlite3.DatabaseError``, ``OSError``)
    propagate; a subclass that can name a fix turns them into a UserError.
    """

    table: str

    def __init__(self, path: Path, schema: str, *, busy_timeout_s: float, synchronous: str | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                     timeout=busy_timeout_s)
        self._conn.execute("PRAGMA journal_mode=WAL")
        if synchronous is not None:
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute(schema)

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
