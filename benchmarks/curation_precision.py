"""Precision and recall of every filter on labelled examples (tests/data/curation/labelled/, labelled by us).

Why: a filter that drops good records silently shrinks and biases a dataset, and one that keeps bad
ones lets them through; neither shows in a run's counts. Each labelled example says whether a careful
curator would drop the record *for the concern that filter addresses*; the filter is run alone, with
its default options, on its own examples:

- precision: of the records the filter dropped, the share labelled "drop";
- recall: of the records labelled "drop", the share the filter dropped.

Also measured: protection of unfenced code before translation (characters of labelled code that are
protected, and protected characters that are code), reading judge replies (the score the rubric's
JSON holds, or none), and the back-translation score at the threshold docs/curation.md suggests.

    python benchmarks/curation_precision.py                # prints the tables
    python benchmarks/curation_precision.py --update-docs  # and rewrites them in docs/curation.md

``tests/test_curation_precision.py`` checks that docs/curation.md shows what this script measures.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "curation" / "labelled"
BENCHMARKS = ROOT / "tests" / "data" / "curation"
CURATION_MD = ROOT / "docs" / "curation.md"
BEGIN, END = "<!-- precision:begin -->", "<!-- precision:end -->"
CODE_KINDS = {"fenced_code", "inline_code", "code_line", "sql", "call"}
BACK_TRANSLATION_THRESHOLD = 0.6
#: (file, language) of the filter examples
FILTER_FILES = (("filters_en.jsonl", "en"), ("filters_ko.jsonl", "ko"), ("curation_en.jsonl", "en"),
                ("curation_ko.jsonl", "ko"))


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, dropped: bool, labelled: bool) -> None:
        if dropped and labelled:
            self.tp += 1
        elif dropped:
            self.fp += 1
        elif labelled:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def examples(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (LABELLED / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _record(row: dict[str, Any], index: int) -> Any:
    from factory.records import Record

    return Record.from_alpaca(row.get("instruction", ""), row.get("input", ""), row.get("output", ""),
                              id=f"example-{index}", meta=dict(row.get("meta") or {}))


def filter_options(name: str, language: str) -> dict[str, Any]:
    """The options each filter is measured with: its defaults, plus what it cannot run without."""
    if name == "decontaminate":
        return {"benchmarks": [str(BENCHMARKS / f"bench_{language}.jsonl")]}
    return {}


def measure_filters() -> dict[tuple[str, str], Counts]:
    """(filter, language) -> counts over that filter's labelled examples."""
    from factory.filtering import FilterChain
    from factory.plugins import get_plugin

    results: dict[tuple[str, str], Counts] = {}
    for file_name, code in FILTER_FILES:
        language = get_plugin("language", code)()
        for index, row in enumerate(_rows(file_name)):
            seeds = [_record(s, i) for i, s in enumerate(row.get("seeds", []))]
            for seed, data in zip(seeds, row.get("seeds", [])):
                seed.id = data["id"]
            chain = FilterChain.of([(row["filter"], filter_options(row["filter"], code))], language, seeds=seeds)
            _, rejected = chain.apply_sync([_record(row, index)])
            results.setdefault((row["filter"], code), Counts()).add(bool(rejected), bool(row["drop"]))
    return results


def measure_code_spans() -> tuple[Counts, int, int]:
    """Character counts of protected code against labelled code; and texts protected exactly as labelled."""
    from factory.protect import find_spans

    counts = Counts()
    exact = 0
    rows = _rows("code_spans.jsonl")
    for row in rows:
        text = row["text"]
        labelled = [False] * len(text)
        for code in row["code"]:
            start = text.index(code)
            labelled[start:start + len(code)] = [True] * len(code)
        found = [False] * len(text)
        predicted = []
        for span in find_spans(text):
            if span.kind in CODE_KINDS:
                found[span.start:span.end] = [True] * (span.end - span.start)
                predicted.append(span.text)
        exact += sorted(predicted) == sorted(row["code"])
        for is_found, is_code in zip(found, labelled):
            if is_found or is_code:
                counts.add(is_found, is_code)
    return counts, exact, len(rows)


def measure_judge_replies() -> tuple[int, int]:
    from factory.quality_judge import JudgeReply
    from factory.structured import StructuredReplyError, parse_reply

    right = 0
    rows = _rows("judge_replies.jsonl")
    for row in rows:
        try:
            score: float | None = parse_reply(row["reply"], JudgeReply).score
        except StructuredReplyError:
            score = None
        right += score == row["score"]
    return right, len(rows)


def measure_back_translation() -> Counts:
    from factory.default_plugins.translation_qa import back_translation_score
    from factory.plugins import get_plugin

    counts = Counts()
    for row in _rows("back_translation.jsonl"):
        score = back_translation_score(row["source"], row["back"], get_plugin("language", row["language"])())
        counts.add(score < BACK_TRANSLATION_THRESHOLD, bool(row["drop"]))
    return counts


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def tables() -> str:
    """The markdown docs/curation.md shows between its precision markers."""
    lines = ["| filter | language | examples | dropped (right / wrong) | precision | recall |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for (name, code), c in sorted(measure_filters().items()):
        lines.append(f"| `{name}` | {code} | {c.examples} | {c.tp} / {c.fp} | {_pct(c.precision)} | {_pct(c.recall)} |")
    back = measure_back_translation()
    lines.append(f"| `translation_qa` back-translation < {BACK_TRANSLATION_THRESHOLD} | en | {back.examples} | "
                 f"{back.tp} / {back.fp} | {_pct(back.precision)} | {_pct(back.recall)} |")
    code, exact, texts = measure_code_spans()
    right, replies = measure_judge_replies()
    lines += ["", "| also measured | result |", "| --- | --- |",
              f"| unfenced code protected before translation ({texts} texts, en and ko) | characters: precision "
              f"{_pct(code.precision)}, recall {_pct(code.recall)}; {exact} of {texts} texts exactly as labelled |",
              f"| judge replies read (`judge_score`, {replies} replies) | {right} of {replies} give the labelled score "
              "(or none) |"]
    return "\n".join(lines)


def update_docs(markdown: str, path: Path = CURATION_MD) -> None:
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {BEGIN} ... {END} markers")
    path.write_text(pattern.sub(lambda _: f"{BEGIN}\n{markdown}\n{END}", text), encoding="utf-8")


def shown_in_docs(path: Path = CURATION_MD) -> str:
    text = path.read_text(encoding="utf-8")
    found = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    return found.group(1) if found else ""


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-docs", action="store_true", help="rewrite the tables in docs/curation.md")
    args = parser.parse_args(list(argv) if argv is not None else None)
    markdown = tables()
    print(markdown)
    if args.update_docs:
        update_docs(markdown)
        print(f"updated {CURATION_MD}")


if __name__ == "__main__":
    main()
