"""One-line error text from library exceptions (users get a line, never a traceback)."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The exception's type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
