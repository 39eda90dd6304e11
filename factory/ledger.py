"""The spend ledger: every paid request written down before it is sent, settled when it returns.

Why: journals commit per batch, but money is spent per request. A run stopped
by a quota (DeepL 456), a dead server or a kill has paid for requests whose
batch never committed; if only committed counters were kept, the resumed run
would forget that spend, stats would under-report and ``budget_usd`` could be
overrun. So each request is a ledger row:

- ``reserve``: written before the request leaves, with its upper cost estimate
  (and ``requests=1`` or ``retries=1``);
- ``settle``: the real tokens, characters and cost once the reply arrives
  (0 when the attempt failed unbilled, such as a 429 or a 5xx).

A row still reserved when a later process opens the ledger belongs to a
process that died with the request in flight: it is marked ``unsettled`` and
counts as spent *at its estimate* (reported apart, as estimated spend). Free
counters (cache hits) are buffered and written at each :meth:`Ledger.flush`
(every committed batch), since losing a few on a kill costs nothing.

The ledger lives in the run folder (``RUN/ledger.sqlite``), so it moves with
``--restart`` and is the single source of every usage figure in ``stats.json``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from factory.sqlite_cache import SQLiteCache

#: usage counters a ledger row carries (the columns of the ``spend`` table)
COUNTERS = ("requests", "cached_requests", "failed_requests", "retries", "prompt_tokens", "completion_tokens",
            "billed_characters", "cached_characters", "cost_usd", "streamed_requests", "time_to_first_token_s",
            "streamed_completion_tokens", "stream_generation_s")
#: counters that cost nothing and may be buffered until the next flush
FREE_COUNTERS = {"cached_requests", "cached_characters", "streamed_requests", "time_to_first_token_s",
                 "streamed_completion_tokens", "stream_generation_s"}
#: counters stored as REAL
_REAL = {"cost_usd", "time_to_first_token_s", "stream_generation_s"}

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spend (id INTEGER PRIMARY KEY, stage TEXT NOT NULL, state TEXT NOT NULL, "
    "pid INTEGER NOT NULL, key TEXT, estimate_usd REAL NOT NULL DEFAULT 0, "
    + ", ".join(f"{name} {'REAL' if name in _REAL else 'INTEGER'} NOT NULL DEFAULT 0" for name in COUNTERS)
    + ", created REAL NOT NULL)"
)


class Ledger(SQLiteCache):
    """The ``spend`` table of one run folder."""

    table = "spend"
    what = "spend ledger"
    move_aside_when_damaged = False  # its spend would be forgotten silently: the user decides
    fix = "move it aside and rerun (its spend is then forgotten), or rerun with --restart"

    def __init__(self, path: str | Path):
        super().__init__(Path(path), _SCHEMA, busy_timeout_s=10.0, synchronous="NORMAL")
        try:
            self._conn.execute("UPDATE spend SET state = 'unsettled' WHERE state = 'reserved' AND pid != ?",
                               (os.getpid(),))
        except (sqlite3.DatabaseError, OSError) as exc:
            self._conn.close()
            raise self._damaged(exc) from None
        self._buffer: dict[str, dict[str, float]] = {}
        self._buffer_lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------------
    def record(self, stage: str, amounts: dict[str, float]) -> None:
        """Settled amounts (no reservation): paid counters are written now, free ones at the next flush."""
        free = {k: v for k, v in amounts.items() if k in FREE_COUNTERS and v}
        paid = {k: v for k, v in amounts.items() if k not in FREE_COUNTERS and v}
        if free:
            with self._buffer_lock:
                bucket = self._buffer.setdefault(stage, {})
                for key, value in free.items():
                    bucket[key] = bucket.get(key, 0) + value
        if paid:
            self._insert(stage, "settled", 0.0, paid)

    def reserve(self, stage: str, estimate_usd: float, amounts: dict[str, float], key: str | None = None) -> int:
        """A request about to be sent; returns the row to settle. ``key`` (the request's cache key) lets a later
        process take the row over when it collects the same request instead of sending it again (a batch)."""
        return self._insert(stage, "reserved", estimate_usd, amounts, key)

    def adopt(self, key: str) -> int | None:
        """The unsettled row an earlier process wrote for request ``key``, now this process's to settle."""
        row = self._fetch_one("SELECT id FROM spend WHERE key = ? AND state = 'unsettled' ORDER BY id DESC LIMIT 1",
                              (key,))
        if row is None:
            return None
        self._write("UPDATE spend SET state = 'reserved', pid = ? WHERE id = ?", (os.getpid(), row[0]))
        return int(row[0])

    def settle(self, row: int, amounts: dict[str, float]) -> None:
        """The real amounts of a reserved request (added to what the reservation already counted)."""
        _check(amounts)
        sets = ", ".join(f"{name} = {name} + ?" for name in amounts)
        sql = f"UPDATE spend SET state = 'settled'{', ' + sets if sets else ''} WHERE id = ?"
        self._write(sql, (*amounts.values(), row))

    def import_usage(self, stage: str, amounts: dict[str, float]) -> None:
        """Counters an older run folder kept in its state, written once as settled spend."""
        self._insert(stage, "settled", 0.0, amounts)

    def flush(self) -> None:
        """Write the buffered free counters."""
        with self._buffer_lock:
            buffer, self._buffer = self._buffer, {}
        for stage, amounts in buffer.items():
            self._insert(stage, "settled", 0.0, amounts)

    def _insert(self, stage: str, state: str, estimate_usd: float, amounts: dict[str, float],
                key: str | None = None) -> int:
        _check(amounts)
        names = ", ".join(("stage", "state", "pid", "key", "estimate_usd", *amounts, "created"))
        marks = ", ".join("?" for _ in range(6 + len(amounts)))
        with self._lock:
            cursor = self._conn.execute(f"INSERT INTO spend ({names}) VALUES ({marks})",
                                        (stage, state, os.getpid(), key, estimate_usd, *amounts.values(), time.time()))
            return int(cursor.lastrowid)

    # -- reading ---------------------------------------------------------------------------
    def totals(self) -> dict[str, dict[str, float]]:
        """Per stage: every counter, plus ``estimated_usd`` (unsettled rows at their estimate) and
        ``unsettled_requests``; buffered free counters included."""
        columns = ", ".join(f"SUM({name})" for name in COUNTERS)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT stage, {columns}, SUM(CASE WHEN state != 'settled' THEN estimate_usd ELSE 0 END), "
                "SUM(CASE WHEN state = 'unsettled' THEN 1 ELSE 0 END) FROM spend GROUP BY stage").fetchall()
        result: dict[str, dict[str, float]] = {}
        for stage, *values in rows:
            counters = dict(zip(COUNTERS, (v or 0 for v in values[: len(COUNTERS)])))
            counters["estimated_usd"] = float(values[len(COUNTERS)] or 0.0)
            counters["unsettled_requests"] = int(values[len(COUNTERS) + 1] or 0)
            result[stage] = counters
        with self._buffer_lock:
            for stage, amounts in self._buffer.items():
                bucket = result.setdefault(stage, {name: 0 for name in COUNTERS} | {"estimated_usd": 0.0,
                                                                                    "unsettled_requests": 0})
                for key, value in amounts.items():
                    bucket[key] = bucket.get(key, 0) + value
        return result

    def spent_usd(self) -> float:
        """Settled cost plus every still-open reservation at its estimate: what the budget must count."""
        row = self._fetch_one("SELECT SUM(cost_usd), SUM(CASE WHEN state != 'settled' THEN estimate_usd ELSE 0 END) "
                              "FROM spend")
        return float((row[0] or 0.0) + (row[1] or 0.0)) if row else 0.0


def _check(amounts: dict[str, Any]) -> None:
    unknown = set(amounts) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown usage counter(s): {', '.join(sorted(unknown))}")
