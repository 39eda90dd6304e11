"""Code that is not fenced: whole code lines, SQL statements and calls such as ``print(len(x))`` in prose.

Why: instructions paste code without Markdown fences (``Explain this:\\nSELECT * FROM users;``,
``What does print(len("abc")) print?``). A translation engine treats such code as prose and
"translates" it (identifiers, keywords, string contents), so :mod:`factory.protect` masks what these
finders return, exactly like a fenced block.

The rules are lexical and conservative: a line counts as code only when its shape says so (a
statement keyword with its punctuation, a call or an assignment that is the whole line, a shell
command), and a line that reads as prose (four plain words in a row outside string literals) is
never code unless a statement keyword opens it. SQL is found by a small scanner over SQL tokens: an
inline statement needs upper-case keywords and its second clause (``SELECT ... FROM``), and it ends at
``;``, at the end of its clauses, or where two plain words follow each other (``FROM users does``).
Precision and recall on labelled lines: docs/curation.md.
"""

from __future__ import annotations

import re
from typing import Iterator

#: ``(start, end)`` of a span in the text
Extent = tuple[int, int]

_STRING = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'")
_PROSE_RUN = re.compile(r"(?:(?<![\w.])[^\W\d_]{2,}[ ,]+){3}[^\W\d_]{2,}(?![\w(])")
_IDENT = r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*"

#: lines that are code by their opening keyword and shape (no prose check)
_KEYWORD_LINES = tuple(re.compile(p) for p in (
    r"^(?:def|class)\s+[A-Za-z_]\w*\s*[(:].*:\s*(?:#.*)?$",
    r"^(?:el)?if\s+.*[=<>!()\[\]._].*:\s*$|^(?:el)?if\s+not\s+\w+:\s*$",
    r"^while\s+.*[=<>!()\[\]._].*:\s*$|^while\s+True:\s*$",
    r"^for\s+[\w, ()]+\s+in\s+.+:\s*$",
    r"^(?:else|try|finally):\s*$|^except\b.*:\s*$|^with\s+.+\s+as\s+\w+:\s*$",
    r"^import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*\s*;?$",
    r"^from\s+[\w.]+\s+import\s+[\w*, ()]+$",
    r"^return(?:\s+[^\s].*)?;?$",
    r"^#include\s*[<\"]",
    r"^(?:public|private|protected|static)\s+[\w<>\[\], ]+[({;]\s*\)?\s*\{?$",
    r"^(?:int|void|float|double|char|bool|long|auto|String|std::\w+)\s+[*&]?\w+.*[;{)]\s*$",
    r"^(?:var|let|const)\s+\w+\s*=\s*.+$",
    r"^(?:async\s+)?function\s*\w*\s*\(.*$|^(?:fn|func)\s+\w+\s*\(.*$",
    r"^[{}\[\]()]+;?$|^\}\s*(?:else\b.*)?\{?$",
    r"^(?:\$|>>>)\s+\S.*$",
    r"^(?:pip3?|npm|npx|yarn|git|python3?|conda|docker|kubectl|curl|wget|sudo|apt(?:-get)?|brew|cd|ls|mkdir|rm|cp|mv"
    r"|chmod|export|echo|cat|grep|ssh)\s+-{0,2}[\w./~$'\"-]+.*$",
))
#: lines that are code by their shape, unless they read as prose
_SHAPE_LINES = tuple(re.compile(p) for p in (
    rf"^{_IDENT}(?:\[[^\]]*\])*\(.*\)\s*;?\s*(?:#.*)?$",  # a call statement: print("hi"), df.head(3);
    rf"^{_IDENT}(?:\[[^\]]*\])*\s*(?:=|\+=|-=|\*=|/=|//=|%=|:=|\|=|&=)\s*[^=\s].*$",  # an assignment
    r"^[a-z_]\w*\s*:\s*[A-Za-z_][\w.]*(?:\[[^\]]*\])?\s*=\s*\S.*$",  # an annotated assignment
    r"^.*[=(].*\)\s*;$",  # a C-like statement ending in );
))
#: a calls inside prose, protected when the name or the arguments show it is code
_CALL_START = re.compile(rf"(?<![\w.]){_IDENT}\(")
_KNOWN_CALLS = frozenset({
    "print", "len", "range", "str", "int", "float", "input", "open", "sum", "max", "min", "sorted", "map",
    "filter", "zip", "enumerate", "list", "dict", "set", "tuple", "type", "isinstance", "abs", "round",
    "printf", "println", "main", "malloc", "free", "strlen", "append", "split", "join", "format", "replace",
    "COUNT", "SUM", "AVG", "MAX", "MIN", "NOW", "CONCAT", "SUBSTR", "LENGTH", "UPPER", "LOWER",
})

# -- SQL -----------------------------------------------------------------------------------
_SQL_KEYWORDS = frozenset("""
SELECT FROM WHERE AND OR NOT IN IS NULL LIKE BETWEEN JOIN INNER LEFT RIGHT OUTER FULL CROSS ON GROUP ORDER BY
HAVING LIMIT OFFSET AS DISTINCT COUNT SUM AVG MIN MAX INSERT INTO VALUES UPDATE SET DELETE CREATE TABLE ALTER DROP
ADD COLUMN PRIMARY KEY INT INTEGER VARCHAR TEXT DATE DECIMAL DESC ASC UNION ALL CASE WHEN THEN ELSE END WITH EXISTS
INDEX VIEW DEFAULT REFERENCES FOREIGN UNIQUE CHECK TOP DATABASE IF TRUE FALSE
""".split())
#: a statement's first keyword -> a keyword it must also have (``SELECT`` alone is emphasis, not SQL)
_SQL_STARTS = {"SELECT": ("FROM",), "INSERT": ("INTO",), "UPDATE": ("SET",), "DELETE": ("FROM",),
               "CREATE": ("TABLE", "VIEW", "INDEX", "DATABASE"), "ALTER": ("TABLE",),
               "DROP": ("TABLE", "VIEW", "INDEX", "DATABASE"), "WITH": ("AS",)}
_SQL_TOKEN = re.compile(
    r"(?P<space>[ \t]+)|(?P<newline>\r?\n)|(?P<string>'(?:''|[^'\n])*'|\"[^\"\n]*\"|`[^`\n]+`)"
    r"|(?P<number>\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][\w]*(?:\.[A-Za-z_*][\w]*)*)"
    r"|(?P<op><=|>=|<>|!=|\|\||[=<>+\-*/%])|(?P<punct>[(),])|(?P<end>;)|(?P<other>\S)")
#: short English words that follow a table name in prose, never an alias
_ENGLISH_SHORT = frozenset("a an as at be by do go if in is it me my no of on or so to up us we".split())
_SQL_START = re.compile(r"(?<![\w.])(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH)\b", re.IGNORECASE)


def _strip_strings(line: str) -> str:
    return _STRING.sub('""', line)


def is_code_line(line: str) -> bool:
    """Whether one line (without its newline) is a line of code."""
    stripped = line.strip()
    if len(stripped) < 2:
        return False
    if any(p.match(stripped) for p in _KEYWORD_LINES):
        return True
    if not any(ch in stripped for ch in "()[]=;"):
        return False
    core = _strip_strings(stripped)
    if _PROSE_RUN.search(core):
        return False
    return any(p.match(stripped) for p in _SHAPE_LINES)


def code_line_spans(text: str) -> list[Extent]:
    """Runs of whole code lines (a block's lines and the newlines between them are one span)."""
    spans: list[Extent] = []
    position = 0
    current: list[int] | None = None
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        start = position + (len(body) - len(body.lstrip()))
        end = position + len(body.rstrip())
        position += len(line)
        if body.strip() and is_code_line(body):
            if current is None:
                current = [start, end]
            else:
                current[1] = end
        elif current is not None and not body.strip():
            continue  # a blank line may sit inside a block; the block ends at the next prose line
        elif current is not None:
            spans.append((current[0], current[1]))
            current = None
    if current is not None:
        spans.append((current[0], current[1]))
    return spans


def _tokens(text: str, start: int) -> Iterator[tuple[str, str, int, int]]:
    for match in _SQL_TOKEN.finditer(text, start):
        yield match.lastgroup or "other", match.group(0), match.start(), match.end()


def _sql_statement(text: str, start: int, upper_only: bool) -> Extent | None:
    """The extent of the SQL statement starting at ``start``, or None when it is not one."""
    first = text[start:start + 6].split()[0].upper()
    needed = _SQL_STARTS.get(first, ())
    seen: set[str] = set()
    end = start
    previous = "keyword"
    line_start = True
    for kind, value, token_start, token_end in _tokens(text, start):
        if kind == "space":
            continue
        if kind == "newline":
            line_start = True
            continue
        is_keyword = kind == "word" and value.upper() in _SQL_KEYWORDS and (value.isupper() or not upper_only)
        if line_start and token_start > start:
            # a new line continues the statement only with a clause keyword, an operator or a bracket
            if not (is_keyword or kind in ("op", "punct")):
                break
        line_start = False
        if kind == "end":
            end = token_end
            break
        if kind == "other":
            break
        if is_keyword:
            seen.add(value.upper())
            previous = "keyword"
        elif kind in ("word", "string", "number"):
            if previous == "operand" and kind == "word" and len(value) <= 2 and value.islower() \
                    and value not in _ENGLISH_SHORT:
                previous = "alias"  # FROM users u
            elif previous in ("operand", "alias"):
                break  # two plain words in a row: prose again
            else:
                previous = "operand"
        else:
            previous = "operator"
        end = token_end
    if not any(k in seen for k in needed):
        return None
    while end > start and text[end - 1] in " \t,(":
        end -= 1
    return (start, end) if end > start else None


def sql_spans(text: str) -> list[Extent]:
    """SQL statements: inline ones need upper-case keywords; lower-case ones must fill their lines and end in ``;``."""
    spans: list[Extent] = []
    position = 0
    for match in _SQL_START.finditer(text):
        if match.start() < position:
            continue
        upper = match.group(1).isupper()
        extent = _sql_statement(text, match.start(), upper_only=upper)
        if extent is None and not upper:
            continue
        if extent is None:
            continue
        if not upper:
            line_start = text.rfind("\n", 0, extent[0]) + 1
            line_end = text.find("\n", extent[1])
            line_end = len(text) if line_end == -1 else line_end
            if text[line_start:extent[0]].strip() or text[extent[1]:line_end].strip() or not text[:extent[1]].endswith(";"):
                continue
        spans.append(extent)
        position = extent[1]
    return spans


def _balanced_end(text: str, open_at: int) -> int | None:
    """The index after the ``)`` closing the ``(`` at ``open_at`` on the same line (strings skipped)."""
    depth = 0
    index = open_at
    while index < len(text):
        ch = text[index]
        if ch == "\n":
            return None
        if ch in "\"'":
            close = text.find(ch, index + 1)
            if close == -1 or "\n" in text[index:close]:
                return None
            index = close + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def call_spans(text: str) -> list[Extent]:
    """Calls written inside prose (``print(len(x))``, ``df.groupby("a")``): a known name, a dotted or
    underscored name, or arguments with quotes, digits or brackets; ``item(s)`` and ``f(x)`` are left alone."""
    spans: list[Extent] = []
    position = 0
    for match in _CALL_START.finditer(text):
        if match.start() < position:
            continue
        end = _balanced_end(text, match.end() - 1)
        if end is None:
            continue
        name = match.group(0)[:-1]
        arguments = text[match.end():end - 1]
        code_like = (name in _KNOWN_CALLS or "." in name or "_" in name or arguments == ""
                     or bool(re.search(r"[\"'\d\[\](=]", arguments)))
        if not code_like or _PROSE_RUN.search(_strip_strings(arguments)):
            continue
        spans.append((match.start(), end))
        position = end
    return spans
