"""HTML markup for the report: one self-contained page (CSS inline, figures as base64 PNG).

Everything that comes from the dataset is text written by a teacher model or
a user, so every string is escaped here, at the single place markup is
made; callers pass plain text only. The page loads nothing from the network
and opens offline.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Sequence, Union

#: Longest text shown in one table cell; the full record is in accepted.jsonl.
MAX_CELL_CHARS = 600

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK KR", "Apple SD Gothic Neo",
       "Malgun Gothic", NanumGothic, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
.subtitle { color: #666; margin-top: 0; }
nav a { margin-right: 1rem; }
section { margin-top: 2.5rem; }
h2 { border-bottom: 2px solid #4C72B0; padding-bottom: 0.2rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f4f6fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { white-space: pre-wrap; word-break: break-word; max-width: 28rem; }
.notes { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5rem 1rem; }
"""


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[object]]
    #: CSS class per column: "num" (right-aligned), "text" (wrapped, truncated) or "".
    kinds: Sequence[str] = ()


@dataclass(frozen=True)
class Figure:
    name: str  # file stem of the PNG next to the page
    png: bytes
    caption: str


Part = Union[Paragraph, Table, Figure]


@dataclass
class Section:
    id: str
    heading: str
    parts: list[Part] = field(default_factory=list)


def escape(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _cell(value: object, kind: str) -> str:
    text = "" if value is None else str(value)
    if kind == "text" and len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS] + " …"
    css = f' class="{kind}"' if kind else ""
    return f"<td{css}>{escape(text)}</td>"


def table_html(table: Table) -> str:
    kinds = list(table.kinds) + [""] * (len(table.headers) - len(table.kinds))
    head = ""
    if any(table.headers):  # a key/value table has no header row
        head = "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in table.headers) + "</tr></thead>\n"
    body = "\n".join("<tr>" + "".join(_cell(v, k) for v, k in zip(row, kinds)) + "</tr>" for row in table.rows)
    return f"<table>\n{head}<tbody>\n{body}\n</tbody>\n</table>"


def figure_html(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (f'<figure id="fig-{escape(figure.name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{escape(figure.caption)}"><figcaption>{escape(figure.caption)}</figcaption></figure>')


def part_html(part: Part) -> str:
    if isinstance(part, Paragraph):
        return f"<p>{escape(part.text)}</p>"
    if isinstance(part, Table):
        return table_html(part)
    return figure_html(part)


def page(title: str, subtitle: str, sections: Sequence[Section], notes: Sequence[str] = ()) -> str:
    """The whole report page."""
    nav = " ".join(f'<a href="#{escape(s.id)}">{escape(s.heading)}</a>' for s in sections)
    notes_html = ""
    if notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in notes)
        notes_html = f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>'
    body = "\n".join(
        f'<section id="{escape(s.id)}">\n<h2>{escape(s.heading)}</h2>\n' + "\n".join(part_html(p) for p in s.parts)
        + "\n</section>"
        for s in sections
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{escape(title)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n<p class=\"subtitle\">{escape(subtitle)}</p>\n"
        f"<nav>{nav}</nav>\n{notes_html}\n{body}\n</body>\n</html>\n"
    )
