"""Parse a self-instruct response (Alpaca's numbered format) back into tasks, losing nothing.

A teacher continues a list such as::

    4. Instruction: ...
    4. Input:
    ...
    4. Output:
    ...
    ###
    5. Instruction: ...

Why a module of its own, and why these rules: a parser that throws tasks away
silently biases the dataset, and one that keeps broken tasks pollutes it. The
rules below were checked against Stanford Alpaca's post-processing on the
same responses (``tests/test_self_instruct_parser.py`` holds the differential
test and the list of deliberate differences):

- a task's fields are split only on labels carrying *that task's number*
  (``5. Input:`` inside task 5), and a new task starts only at the next
  number's instruction label or after a ``###`` line, so a numbered list inside
  an output (``1. Title / 2. Input: ...``) stays in the output;
- labels may sit on the same line as the previous field (``... 5. Input: x``);
- ``###`` separates tasks only when nothing follows it on its line (a markdown
  ``### Heading`` inside an output is text);
- only the language's explicit no-input markers empty an input; ``None`` or
  ``N/A`` are kept as written;
- on ``finish_reason="length"`` only the last piece that is not followed by a
  separator or by the next task is cut off (``truncated``); a complete last
  task ending in ``###`` is kept;
- a trailing echo of the request's stop string (``\\n20``, which some servers
  return) is removed before parsing;
- every piece of text that is not a well-formed task becomes exactly one
  rejection with a reason, never two and never none.

The functions are pure: text in, tasks out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

from factory.languages import PromptWording
from factory.records import Record

#: the English labels are always understood, whatever the language (teachers fall back to them)
_ENGLISH = {"instruction": "Instruction", "input": "Input", "output": "Output"}
#: a ``###`` run that ends its line: the task separator (``### Heading`` is not one)
_SEPARATOR = re.compile(r"(?:^|(?<=\s))#{3,}[ \t]*(?=\n|$)")


@dataclass(frozen=True)
class Task:
    """A well-formed task: its number in the list and its three fields (input empty when there is none)."""

    number: int
    instruction: str
    input: str
    output: str


@dataclass(frozen=True)
class Garbled:
    """Text that is not a well-formed task: ``reason`` is ``bad_format`` or ``truncated``."""

    number: int | None
    text: str
    reason: str
    detail: str


Piece = Union[Task, Garbled]


def strip_stop_echo(text: str, stop: Iterable[str]) -> str:
    """Remove one trailing copy of a stop string that starts a line (``"...###\\n20"`` -> ``"...###\\n"``).

    Some servers (``transformers serve`` among them) return the stop string
    they stopped at. Only an echo at the start of a line is removed, so an
    output ending in ``"costs 20."`` keeps its number.
    """
    body = text.rstrip()
    for candidate in sorted({s.strip() for s in stop if s.strip()}, key=len, reverse=True):
        if body.endswith(candidate):
            before = body[: -len(candidate)]
            if before == "" or before.endswith("\n"):
                return before
    return text


def _label_pattern(names: Sequence[str]) -> str:
    return "|".join(re.escape(name) for name in dict.fromkeys(names))


class _Labels:
    """Regexes for one wording's labels; ``marker(kind, number)`` matches ``N. Label:`` for one number."""

    def __init__(self, wording: PromptWording):
        self.names = {
            "instruction": _label_pattern([wording.instruction_label, _ENGLISH["instruction"]]),
            "input": _label_pattern([wording.input_label, _ENGLISH["input"]]),
            "output": _label_pattern([wording.output_label, _ENGLISH["output"]]),
        }
        any_label = "|".join(self.names.values())
        self.starts_with_label = re.compile(rf"\s*\d+\s*[.)]\s*(?:{any_label})\s*[:：]", re.IGNORECASE)
        self.instruction_any = self._compile("instruction", r"\d+")
        self._by_number: dict[tuple[str, int], re.Pattern[str]] = {}

    def _compile(self, kind: str, number: str) -> re.Pattern[str]:
        return re.compile(rf"(?<!\S)({number})\s*[.)]\s*(?:{self.names[kind]})\s*[:：]", re.IGNORECASE)

    def marker(self, kind: str, number: int) -> re.Pattern[str]:
        key = (kind, number)
        if key not in self._by_number:
            self._by_number[key] = self._compile(kind, str(number))
        return self._by_number[key]


def _chunks(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, followed by a separator) for the text between ``###`` separator lines."""
    spans, start = [], 0
    for match in _SEPARATOR.finditer(text):
        spans.append((start, match.start(), True))
        start = match.end()
    spans.append((start, len(text), False))
    return spans


def _split_chunk(chunk: str, labels: _Labels) -> tuple[str, list[tuple[int, str]]]:
    """(text before the first task, [(number, task text)]) for one separator-delimited chunk.

    The chunk's first task takes the number its instruction label carries;
    after it, only the next number's instruction label starts a new task.
    """
    first = labels.instruction_any.search(chunk)
    if first is None:
        return chunk, []
    tasks: list[tuple[int, str]] = []
    number, start = int(first.group(1)), first.start()
    while True:
        following = labels.marker("instruction", number + 1).search(chunk, start + 1)
        end = following.start() if following else len(chunk)
        tasks.append((number, chunk[start:end]))
        if following is None:
            return chunk[: first.start()], tasks
        number, start = number + 1, following.start()


def _fields(number: int, text: str, labels: _Labels, noinputs: set[str]) -> Task | Garbled:
    """The three fields of task ``number`` from its text (which starts with its instruction label)."""
    found: list[tuple[int, int, str]] = []  # (label start, content start, kind)
    for kind in ("instruction", "input", "output"):
        found.extend((m.start(), m.end(), kind) for m in labels.marker(kind, number).finditer(text))
    found.sort()
    kinds = [kind for _, _, kind in found]
    repeated = sorted({kind for kind in kinds if kinds.count(kind) > 1})
    if repeated:
        return Garbled(number, text.strip(), "bad_format", f"repeated label: {', '.join(repeated)}")
    values = {kind: text[content: found[i + 1][0] if i + 1 < len(found) else len(text)].strip()
              for i, (_, content, kind) in enumerate(found)}
    if "output" not in values:
        return Garbled(number, text.strip(), "bad_format", "missing labels: output")
    if not values.get("instruction"):
        return Garbled(number, text.strip(), "bad_format", "empty instruction")
    input_text = values.get("input", "")
    if input_text.lower() in noinputs:
        input_text = ""
    return Task(number, values["instruction"], input_text, values["output"])


def noinput_markers(wording: PromptWording) -> set[str]:
    """The lowercased spellings that mean "this task has no input" for this wording."""
    return {wording.noinput.lower(), "<noinput>", *(alias.lower() for alias in wording.noinput_aliases)}


def parse_tasks(text: str, wording: PromptWording, first_number: int, *, finish_reason: str = "stop",
                stop: Iterable[str] = ()) -> list[Piece]:
    """Every task and every garbled piece of ``text``, in order.

    ``first_number`` is the number of the task the prompt ended on (its
    instruction label ends the prompt, so the response starts inside it).
    """
    labels = _Labels(wording)
    text = strip_stop_echo(text, stop)
    if not labels.starts_with_label.match(text):
        text = f"{first_number}. {wording.instruction_label}:" + text
    noinputs = noinput_markers(wording)
    pieces: list[tuple[Piece, str, bool]] = []  # (piece, its text, followed by a separator or another task)
    for start, end, separated in _chunks(text):
        lead, tasks = _split_chunk(text[start:end], labels)
        if lead.strip():
            pieces.append((Garbled(None, lead.strip(), "bad_format", "missing labels"), lead, separated or bool(tasks)))
        for index, (number, body) in enumerate(tasks):
            pieces.append((_fields(number, body, labels, noinputs), body, separated or index + 1 < len(tasks)))
    if finish_reason == "length" and pieces and not pieces[-1][2]:
        last, raw, _ = pieces[-1]
        pieces[-1] = (Garbled(last.number, raw.strip(), "truncated", "finish_reason=length"), raw, False)
    return [piece for piece, _, _ in pieces]


def parse_records(text: str, wording: PromptWording, first_number: int, id_prefix: str, *,
                  finish_reason: str = "stop", stop: Iterable[str] = ()
                  ) -> tuple[list[Record], list[tuple[Record, str, str]]]:
    """:func:`parse_tasks` as candidate records and ``(record, reason, detail)`` rejections, ids ``{prefix}-{position}``."""
    candidates: list[Record] = []
    rejected: list[tuple[Record, str, str]] = []
    for position, piece in enumerate(parse_tasks(text, wording, first_number, finish_reason=finish_reason, stop=stop)):
        record_id = f"{id_prefix}-{position}"
        if isinstance(piece, Task):
            candidates.append(Record.from_alpaca(piece.instruction, input=piece.input, output=piece.output, id=record_id))
        else:
            rejected.append((Record.from_alpaca(piece.text[:500], id=record_id), piece.reason, piece.detail))
    return candidates, rejected
