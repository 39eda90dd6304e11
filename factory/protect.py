"""Protected spans: parts of a text that translation must return byte-identical.

Machine translation happily "fixes" code, rewrites URLs, localizes numbers
and translates template placeholders, which silently breaks the examples a
dataset teaches from. Before translation every protected span is masked in
a form the engine keeps verbatim; afterwards the spans are restored and
checked, so a text whose spans did not survive is caught instead of shipped.

Two masking forms:

- **markup** (engines with XML tag handling, such as DeepL): each span
  becomes an empty element of the tag the engine is told to ignore
  (``<keep i="1"/>``) and the free text is XML-escaped. The span itself is
  never sent: DeepL bills the characters outside tags only, so a request
  bills exactly the prose around the spans. Engines may move an element
  within the sentence (word order differs between languages); every number
  must come back exactly once.
- **markers** (LLMs): each span becomes a numbered marker ``⟦1⟧``; every
  marker must come back exactly once.

A text with no letters outside its spans (a fenced block, a URL, ``<noinput>``,
a list of numbers) has nothing to translate: :attr:`MaskedText.has_prose` is
False and the translation service returns it as it is, without sending it.

Spans are code (fenced, inline, unfenced code lines, SQL statements and calls
written in prose, found by :mod:`factory.code_spans`), URLs, e-mail addresses,
placeholders and numbers with units.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from factory import code_spans

#: Bump when masking changes, so cached engine outputs of the old form are not reused.
SCHEME_VERSION = "2"

#: Reason code of a text whose protected spans did not survive translation.
SPAN_LOST = "protected_span_lost"

MARKER_OPEN, MARKER_CLOSE = "⟦", "⟧"
_MARKER_RE = re.compile(r"⟦\s*(\d+)\s*⟧")

_UNITS = (
    r"%|°[CF]|km/h|km|kg|mg|ml|mm|cm|nm|µm|m|g|L|GB|MB|KB|kB|TB|GiB|MiB|KiB|GHz|MHz|kHz|Hz|kWh|kW|W|V|mAh|"
    r"mph|ms|sec|min|hrs|px|pt|dB|USD|EUR|KRW|JPY|lbs|lb|oz|ft"
)

#: (kind, pattern), in priority order: an earlier kind wins where matches overlap.
SPAN_PATTERNS: tuple[tuple[str, re.Pattern[str] | Callable[[str], list[tuple[int, int]]]], ...] = (
    ("fenced_code", re.compile(r"```[\s\S]*?(?:```|\Z)|~~~[\s\S]*?(?:~~~|\Z)")),
    ("inline_code", re.compile(r"``[^\n]+?``|`[^`\n]+`")),
    ("code_line", code_spans.code_line_spans),
    ("sql", code_spans.sql_spans),
    ("url", re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[A-Za-z0-9-]+\.[^\s<>\"'`]+")),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    ("call", code_spans.call_spans),
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
        extents = pattern(text) if callable(pattern) else [m.span() for m in pattern.finditer(text)]
        for start, end in extents:
            if kind == "url":
                end = _trim_url(text, start, end)
            if end <= start or any(start < s.end and s.start < end for s in taken):
                continue
            taken.append(Span(start, end, kind, text[start:end]))
    return sorted(taken, key=lambda s: s.start)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tag_name(open_tag: str) -> str:
    """``keep`` for ``<keep>``: the element the engine is told to leave alone."""
    match = re.match(r"<\s*([A-Za-z_][\w:.-]*)", open_tag)
    if match is None:
        raise ValueError(f"protect_markup must start with an XML tag, got {open_tag!r}")
    return match.group(1)


def _element(tag: str, number: int) -> str:
    return f'<{tag} i="{number}"/>'


def _element_pattern(tag: str) -> re.Pattern[str]:
    """An element standing for span N, as engines may return it (``<keep i="1"/>``, ``<keep i='1'></keep>``)."""
    name = re.escape(tag)
    return re.compile(rf"<{name}\s+i\s*=\s*[\"'](\d+)[\"']\s*(?:/>|>\s*</{name}\s*>)")


@dataclass(frozen=True)
class MaskedText:
    """A text ready to send, the spans it hides and the form they are hidden in."""

    original: str
    text: str
    spans: tuple[str, ...]
    markup: tuple[str, str] | None

    @property
    def prose(self) -> str:
        """The text outside the spans (what an engine that bills characters outside tags bills)."""
        if self.markup is None:
            return _MARKER_RE.sub("", self.text)
        return html.unescape(_element_pattern(_tag_name(self.markup[0])).sub("", self.text))

    @property
    def has_prose(self) -> bool:
        """False for a text with no letter outside its spans: there is nothing to translate, so it is not sent."""
        return any(ch.isalpha() for ch in self.prose)

    @property
    def billable_characters(self) -> int:
        """What an engine billing source characters bills for this text: the prose for markup (tags are
        free, as on DeepL), the whole sent text for markers."""
        return len(self.prose) if self.markup is not None else len(self.text)

    def restore(self, translated: str) -> str:
        """The translation with every span put back; raises ProtectedSpanLost if any did not survive."""
        if self.markup is None:
            return self._restore_numbered(translated, _MARKER_RE, lambda text: text)
        tag = _tag_name(self.markup[0])
        restored = self._restore_numbered(translated, _element_pattern(tag), html.unescape)
        return restored

    def _restore_numbered(self, translated: str, pattern: re.Pattern[str], free: Callable[[str], str]) -> str:
        found = [int(number) for number in pattern.findall(translated)]
        expected = list(range(1, len(self.spans) + 1))
        if sorted(found) != expected:
            missing = sorted(set(expected) - set(found))
            extra = sorted(n for n, c in Counter(found).items() if c > 1 or n not in expected)
            raise ProtectedSpanLost(f"spans missing {missing} or unexpected {extra}")
        pieces: list[str] = []
        position = 0
        for match in pattern.finditer(translated):
            pieces.append(free(translated[position:match.start()]))
            pieces.append(self.spans[int(match.group(1)) - 1])
            position = match.end()
        tail = free(translated[position:])
        if self.markup is not None and re.search(rf"</?{re.escape(_tag_name(self.markup[0]))}\b", "".join(pieces[::2]) + tail):
            raise ProtectedSpanLost("a protection tag came back broken")
        pieces.append(tail)
        return "".join(pieces)


def mask(text: str, markup: tuple[str, str] | None = None) -> MaskedText:
    """Hide the protected spans of ``text``: as empty ``markup`` elements (escaping the rest as XML) or as ⟦n⟧ markers."""
    spans = [s for s in find_spans(text) if markup is None or s.kind != "marker_char"]
    tag = _tag_name(markup[0]) if markup is not None else ""
    pieces: list[str] = []
    position = 0
    for number, span in enumerate(spans, start=1):
        free = text[position : span.start]
        if markup is None:
            pieces.append(free)
            pieces.append(f"{MARKER_OPEN}{number}{MARKER_CLOSE}")
        else:
            pieces.append(_escape(free))
            pieces.append(_element(tag, number))
        position = span.end
    tail = text[position:]
    pieces.append(tail if markup is None else _escape(tail))
    return MaskedText(original=text, text="".join(pieces), spans=tuple(s.text for s in spans), markup=markup)


# -- translations cached under scheme 1 (spans sent inside the tags, no unfenced-code spans) ---------------------
#: span kinds scheme 1 did not protect: a scheme-1 translation of a text holding one translated its code
SCHEME_2_KINDS = frozenset({"code_line", "sql", "call"})


def reusable_from_scheme_1(text: str) -> bool:
    """Whether a translation cached under scheme 1 is still right for ``text``: scheme 1 masked the same spans."""
    return not any(span.kind in SCHEME_2_KINDS for span in find_spans(text))


def restore_scheme_1(masked: MaskedText, translated: str) -> str:
    """A scheme-1 engine output restored: markers as now, markup as ``<keep>span</keep>`` (compared as a multiset)."""
    if masked.markup is None:
        return masked.restore(translated)
    open_tag, close_tag = masked.markup
    pattern = re.compile(re.escape(open_tag) + r"([\s\S]*?)" + re.escape(close_tag))
    pieces: list[str] = []
    returned: list[str] = []
    position = 0
    for match in pattern.finditer(translated):
        pieces.append(html.unescape(translated[position:match.start()]))
        span = html.unescape(match.group(1))
        returned.append(span)
        pieces.append(span)
        position = match.end()
    pieces.append(html.unescape(translated[position:]))
    if Counter(returned) != Counter(masked.spans):
        raise ProtectedSpanLost("spans not returned intact")
    restored = "".join(pieces)
    if open_tag in restored or close_tag in restored:
        raise ProtectedSpanLost("unbalanced protection tags in the translation")
    return restored
