"""Live progress on a terminal, plain log lines elsewhere, nothing with --quiet."""

from __future__ import annotations

import sys
import time
from typing import Any


def _fmt_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """One progress line per long stage: done/target, rate, ETA, tokens, cost, extras."""

    def __init__(self, quiet: bool = False, stream=None, interval_s: float = 5.0):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.live = (not quiet) and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval_s = interval_s
        self._stage = ""
        self._total = 0
        self._start = 0.0
        self._base = 0
        self._last_print = 0.0
        self._rich = None

    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self._rich is not None:
            self._rich.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def start(self, stage: str, total: int, done: int = 0) -> None:
        self._stage, self._total, self._base = stage, total, done
        self._start = time.monotonic()
        self._last_print = 0.0
        if self.live:
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

            self._rich = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeRemainingColumn(), TextColumn("{task.fields[extra]}"), console=None, transient=False,
                redirect_stdout=False, redirect_stderr=False,
            )
            self._rich.start()
            self._task = self._rich.add_task(stage, total=total, completed=done, extra="")

    def update(self, done: int, **fields: Any) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self._start
        rate = (done - self._base) / elapsed if elapsed > 0 else 0.0
        eta = (self._total - done) / rate if rate > 0 else float("nan")
        extra = "  ".join(f"{k}={v}" for k, v in fields.items())
        if self._rich is not None:
            self._rich.update(self._task, completed=min(done, self._total), extra=extra)
            return
        now = time.monotonic()
        if now - self._last_print >= self.interval_s or done >= self._total:
            self._last_print = now
            eta_text = _fmt_duration(eta) if eta == eta else "?"
            print(f"[{self._stage}] {done}/{self._total}  {rate:.2f}/s  eta {eta_text}  {extra}", file=self.stream, flush=True)

    def finish(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
