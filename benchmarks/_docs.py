"""Rewrite one benchmark's section of docs/performance.md, leaving the other benchmarks' sections alone.

Why: every benchmark with ``--update-docs`` owns one ``## `` section of the
same file; each must replace its own text in place (or append it the first
time) without touching what the others measured.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE_MD = ROOT / "docs" / "performance.md"


def update_section(heading: str, markdown: str, path: Path = PERFORMANCE_MD) -> Path:
    """Make ``heading`` (a ``## `` line) followed by ``markdown`` the section of that name in ``path``.

    The section runs from its heading line to the next ``## `` heading or the
    end of the file; a missing section is appended, a missing file starts as
    ``# Performance``. Returns ``path``.
    """
    section = heading + "\n\n" + markdown.strip("\n") + "\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    found = re.search(rf"^{re.escape(heading)}[ \t]*$", text, flags=re.MULTILINE)
    if found:
        head, rest = text[: found.start()], text[found.end():]
        following = rest.find("\n## ")
        tail = rest[following + 1:] if following >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
