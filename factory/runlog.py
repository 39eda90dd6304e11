"""Where factory's own log records go: ``RUN/run.log`` during a run, the terminal only with ``-v``.

Without this, Python's last-resort handler printed every retry warning on the
terminal, so a persistent fault showed several lines before the one that says
what to do. Records of factory and its plugins (loggers named ``factory*``) are
written to the run folder's log instead; other libraries' warnings still reach
the terminal as before.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_NAME = "run.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _ours(record: logging.LogRecord) -> bool:
    return record.name.split(".", 1)[0].startswith("factory")


def _not_ours(record: logging.LogRecord) -> bool:
    return not _ours(record)


def quiet_terminal() -> None:
    """Library warnings to stderr as before, factory's own records not (they go to ``RUN/run.log``)."""
    root = logging.getLogger()
    if any(getattr(h, "_factory_terminal", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(_not_ours)
    handler._factory_terminal = True  # type: ignore[attr-defined]
    root.addHandler(handler)


class RunLog:
    """``RUN/run.log`` for the duration of a run (a context manager)."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LOG_NAME
        self._handler: logging.Handler | None = None
        self._level: int | None = None
        self.warnings = 0  # warnings and errors logged during this run

    def _count(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.warnings += 1
        return True

    def __enter__(self) -> "RunLog":
        handler = logging.FileHandler(self.path, encoding="utf-8", delay=True)  # made at the first record
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(_ours)
        handler.addFilter(self._count)
        root = logging.getLogger()
        self._level = root.level
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)  # the terminal handler stays at WARNING (quiet_terminal)
        root.addHandler(handler)
        self._handler = handler
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handler is not None:
            root = logging.getLogger()
            root.removeHandler(self._handler)
            self._handler.close()
            if self._level is not None:
                root.setLevel(self._level)
            self._handler = None

    def reopen(self) -> None:
        """After ``--restart`` moved the folder aside: the next record goes to the new folder's log."""
        if self._handler is not None:
            self._handler.close()  # a FileHandler reopens its path at the next record

    def has_warnings(self) -> bool:
        return self.warnings > 0
