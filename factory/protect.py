"""Protected spans: parts of a text that translation must return byte-identical.

Machine translation happily "fixes" code, rewrites URLs, localizes numbers
and translates template placeholders, which silently breaks the examples a
dataset teaches from. Before translation every protected span is masked in
a form the engine keeps verbatim; afterwards the spans are restored and
checked, so a text whose spans did not survive is caught instead of shipped.

Two masking forms:

- **markup** (engines with XML tag handling, such as DeepL): the span is
  wrapped in a tag pair the engine is told to ignore (``<keep>...</keep>``)
  and the free text is XML-escaped. Engines may move a span within the
  sentence (word order differs between languages), so validation compares
  the spans as a multiset.
- **markers** (LLMs): each span becomes a numbered marker ``⟦1⟧``; every
  marker must come back exactly once.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass

#: Bump when masking changes, so cached engine outputs of the old form are not reused.
SCHEME_VERSION = "1"

#: Reason code of a text whose protected spans did not survive translation.
SPAN_LOST = "protected_span_lost"

MARKER_OPEN, MARKER_CLOSE = "⟦", "⟧"
_MARKER_RE = re.compile(r"⟦\s*(\d+)\s*⟧")

_UNITS = (
    r"%|°[CF]|km/h|km|kg|mg|ml|mm|cm|nm|µm|m|g|L|GB|MB|KB|kB|TB|GiB|MiB|KiB|GHz|MHz|kHz|Hz|kWh|kW|W|V|mAh|"
    r"mph|ms|sec|min|hrs|px|pt|dB|USD|EUR|KRW|JPY|lbs|lb|oz|ft"
)

#: (kind, pattern), in priority order: an earlier kind wins where matches overlap.
SPAN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("fenced_code", re.compile(r"```[\s\S]*?(?:```|\Z)|~~~[\s\S]*?(?:~~~|\Z)")),
    ("inline_code", re.compile(r"``[^\n]+?``|`[^`\n]+`")),
    ("url", re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[A-Za-z0-9-]+\.[^\s<>\"'`]+")),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    (
        "placeholder",
        re.compile(
            r"<noinput>"
            r"|\{\{[^{}\n]*\}\}"  # {{ jinja }}
            r"|\$\{[A-Za-z_]\w*\}"  # ${shell}
            r"|\{(?:[A-Za-z_][\w.]*|\d*)(?:![rsa])?(?::[^{}\n]*)?\}"  # {name} {0} {} {x:.2f}
            r"|%\([A-Za-z_]\w*\)[-+#0 ]*\d*(?:\.\d+)?[sdifgeExXcr]"  # %(name)s
            r"|%[-+#0]*\d*(?:\.\d+)?[sdifgeExXc](?![A-Za-z])"  # %s %d %.2f
        ),
    ),
    (
        "number_unit",
        re.compile(
            r"(?<![\w.])[$€£₩¥]\s?\d+(?:[.,]\d+)*"
            rf"|(?<![\w.])[-+]?\d+(?:[.,]\d+)*\s?(?:{_UNITS})(?![A-Za-z0-9])"
        ),
    ),
    # The marker brackets themselves, so a text that contains them cannot fake a marker.
    ("marker_char", re.compile(r"[⟦⟧]")),
)

_URL_TRAILING = ".,;:!?'\")]}"


class ProtectedSpanLost(ValueError):
    """A translation dropped, duplicated or altered a protected span."""

    reason = SPAN_LOST


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    text: str


def _trim_url(text: str, start: int, end: int) -> int:
    """Drop sentence punctuation after a URL, keeping a ')' that closes one inside it."""
    while end > start and text[end - 1] in _URL_TRAILING:
        if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
            break
        end -= 1
    return end


def find_spans(text: str) -> list[Span]:
    """Every protected span of ``text``, non-overlapping, in text order."""
    taken: list[Span] = []
    for kind, pattern in SPAN_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                end = _trim_url(text, start, end)
            if end <= start or any(start < s.end and s.start < end for s in taken):
                continue
            taken.append(Span(start, end, kind, text[start:end]))
    return sorted(taken, key=lambda s: s.start)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class MaskedText:
    """A text ready to send, the spans it hides and the form they are hidden in."""

    original: str
    text: str
    spans: tuple[str, ...]
    markup: tuple[str, str] | None

    def restore(self, translated: str) -> str:
        """The translation with every span put back; raises ProtectedSpanLost if any did not survive."""
        if self.markup is None:
            return self._restore_markers(translated)
        return self._restore_markup(translated)

    def _restore_markers(self, translated: str) -> str:
        found = [int(number) for number in _MARKER_RE.findall(translated)]
        expected = list(range(1, len(self.spans) + 1))
        if sorted(found) != expected:
            missing = sorted(set(expected) - set(found))
            extra = sorted(n for n, c in Counter(found).items() if c > 1 or n not in expected)
            raise ProtectedSpanLost(f"markers missing {missing} or unexpected {extra}")
        return _MARKER_RE.sub(lambda m: self.spans[int(m.group(1)) - 1], translated)

    def _restore_markup(self, translated: str) -> str:
        open_tag, close_tag = self.markup  # type: ignore[misc]
        pattern = re.compile(re.escape(open_tag) + r"([\s\S]*?)" + re.escape(close_tag))
        pieces: list[str] = []
        returned: list[str] = []
        position = 0
        for match in pattern.finditer(translated):
            pieces.append(html.unescape(translated[position : match.start()]))
            span = html.unescape(match.group(1))
            returned.append(span)
            pieces.append(span)
            position = match.end()
        pieces.append(html.unescape(translated[position:]))
        if Counter(returned) != Counter(self.spans):
            lost = list((Counter(self.spans) - Counter(returned)).elements())
            raise ProtectedSpanLost(f"spans not returned intact: {lost[:3]!r}")
        restored = "".join(pieces)
        if open_tag in restored or close_tag in restored:
            raise ProtectedSpanLost("unbalanced protection tags in the translation")
        return restored


def mask(text: str, markup: tuple[str, str] | None = None) -> MaskedText:
    """Hide the protected spans of ``text``: in ``markup`` tags (escaping the rest as XML) or as ⟦n⟧ markers."""
    spans = [s for s in find_spans(text) if markup is None or s.kind != "marker_char"]
    pieces: list[str] = []
    position = 0
    for number, span in enumerate(spans, start=1):
        free = text[position : span.start]
        if markup is None:
            pieces.append(free)
            pieces.append(f"{MARKER_OPEN}{number}{MARKER_CLOSE}")
        else:
            pieces.append(_escape(free))
            pieces.append(markup[0] + _escape(span.text) + markup[1])
        position = span.end
    tail = text[position:]
    pieces.append(tail if markup is None else _escape(tail))
    return MaskedText(original=text, text="".join(pieces), spans=tuple(s.text for s in spans), markup=markup)
