"""What a teacher submitted to a vendor's batch API, kept beside the response cache.

Why: a batch costs money the moment it is created and may take up to a day.
A run killed while it waits must, when rerun, poll the batches it already
created and never upload the same requests again. So a teacher journals each
uploaded input file (with the custom ids it holds) before it creates the
batch, then the batch id, then the outcome of each custom id; each write is
committed at once (see :class:`~factory.sqlite_cache.SQLiteCache`). The
journal lives in the run's ``cache/teacher.sqlite`` (tables ``batches`` and
``batch_items``), and the JSONL files the teacher uploads in ``cache/batches/``.

An item is ``pending`` (in a batch not collected yet), ``ok`` (answered: the
answer may be fetched again if the run died before caching it) or ``failed``
(it will be submitted again in a new batch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from factory.sqlite_cache import SQLiteCache

PENDING, OK, FAILED = "pending", "ok", "failed"
_IN_CLAUSE = 500  # SQLite's default limit on bound parameters is 999


@dataclass(frozen=True)
class JournaledBatch:
    """One uploaded input file and the batch created from it (``batch_id`` None until it exists)."""

    file_id: str
    batch_id: str | None
    state: str
    path: str
    created: float


class BatchJournal(SQLiteCache):
    """Batches and their items in the SQLite file ``path``; ``report`` prints progress lines."""

    table = "batches"
    what = "teacher cache (batch journal)"

    def __init__(self, path: str | Path, report: Callable[[str], None] | None = None):
        super().__init__(
            Path(path),
            "CREATE TABLE IF NOT EXISTS batches (file_id TEXT PRIMARY KEY, teacher TEXT NOT NULL, batch_id TEXT, "
            "state TEXT NOT NULL, path TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL)",
            busy_timeout_s=10.0,
            synchronous="NORMAL",
        )
        self._write("CREATE TABLE IF NOT EXISTS batch_items (custom_id TEXT NOT NULL, file_id TEXT NOT NULL, "
                    "state TEXT NOT NULL, PRIMARY KEY (custom_id, file_id))", ())
        self._write("CREATE INDEX IF NOT EXISTS batch_items_by_id ON batch_items (custom_id)", ())
        self.folder = self.path.parent / "batches"
        self._report = report

    def report(self, line: str) -> None:
        """Show a batch state to the user (the run's progress log)."""
        if self._report is not None:
            self._report(line)

    # -- writes ----------------------------------------------------------------------------
    def record_upload(self, teacher: str, file_id: str, custom_ids: Sequence[str], path: str | Path) -> None:
        """An input file was uploaded: journal it and its items before a batch is created from it."""
        now = time.time()
        self._transaction(
            [("INSERT OR REPLACE INTO batches (file_id, teacher, batch_id, state, path, created, updated) "
              "VALUES (?, ?, NULL, 'uploaded', ?, ?, ?)", [(file_id, teacher, str(path), now, now)]),
             ("INSERT OR REPLACE INTO batch_items (custom_id, file_id, state) VALUES (?, ?, ?)",
              [(custom_id, file_id, PENDING) for custom_id in custom_ids])])

    def record_batch(self, file_id: str, batch_id: str, state: str) -> None:
        self._write("UPDATE batches SET batch_id = ?, state = ?, updated = ? WHERE file_id = ?",
                    (batch_id, state, time.time(), file_id))

    def set_state(self, file_id: str, state: str) -> None:
        self._write("UPDATE batches SET state = ?, updated = ? WHERE file_id = ?", (state, time.time(), file_id))

    def record_outcomes(self, file_id: str, ok: Iterable[str], failed: Iterable[str]) -> None:
        """The batch was collected: which of its custom ids were answered and which must be sent again."""
        rows = [(OK, custom_id, file_id) for custom_id in ok] + [(FAILED, custom_id, file_id) for custom_id in failed]
        self._transaction([("UPDATE batch_items SET state = ? WHERE custom_id = ? AND file_id = ?", rows)])

    # -- reads -----------------------------------------------------------------------------
    def find(self, teacher: str, custom_ids: Iterable[str]) -> dict[str, JournaledBatch]:
        """For each custom id already in a batch of ``teacher`` (pending or answered), the latest such batch."""
        found: dict[str, JournaledBatch] = {}
        ids = list(dict.fromkeys(custom_ids))
        for start in range(0, len(ids), _IN_CLAUSE):
            part = ids[start:start + _IN_CLAUSE]
            marks = ",".join("?" * len(part))
            with self._lock:
                rows = self._conn.execute(
                    "SELECT i.custom_id, b.file_id, b.batch_id, b.state, b.path, b.created FROM batch_items i "
                    "JOIN batches b ON b.file_id = i.file_id "
                    f"WHERE b.teacher = ? AND i.state IN ('{PENDING}', '{OK}') AND i.custom_id IN ({marks}) "
                    "ORDER BY b.created", (teacher, *part)).fetchall()
            for custom_id, *batch in rows:
                found[custom_id] = JournaledBatch(*batch)  # later batches override earlier ones
        return found

    def items(self, file_id: str, state: str | None = None) -> list[str]:
        """The custom ids of one journaled input file (in one state, or all)."""
        sql, parameters = "SELECT custom_id FROM batch_items WHERE file_id = ?", (file_id,)
        if state is not None:
            sql, parameters = sql + " AND state = ?", (file_id, state)
        with self._lock:
            return [row[0] for row in self._conn.execute(sql, parameters).fetchall()]

    def _transaction(self, statements: list[tuple[str, list[tuple]]]) -> None:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for sql, rows in statements:
                    self._conn.executemany(sql, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
