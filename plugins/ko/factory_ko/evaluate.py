"""Which Korean tokenizer options separate paraphrases from distinct tasks at ROUGE-L 0.7?

Scores every labelled pair of ``tests/data/ko_pairs.jsonl`` (label 1: the same
task reworded only in particles, endings, spacing or politeness; label 0: a
different task sharing words) with ROUGE-L F under every combination of the
``Korean`` options, and under two baselines: rouge_score's default tokenizer
(what Alpaca and KoAlpaca run; it keeps only ``[a-z0-9]``) and whitespace
eojeols. "F > threshold" is the duplicate decision, as in Alpaca's filter.

    python -m factory_ko.evaluate [PAIRS.jsonl] [--threshold 0.7]

prints the markdown tables that docs/korean.md quotes.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from factory.similarity import rouge_l_f

from factory_ko.language import Korean

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "ko_pairs.jsonl"
OPTION_NAMES = ("drop_particles", "drop_endings", "drop_symbols")
#: Thresholds over which the robustness column reports the worst F1.
NEARBY_THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8)

TokenizeMany = Callable[[Sequence[str]], list[list[str]]]


@dataclass(frozen=True)
class Pair:
    id: str
    a: str
    b: str
    label: int
    kind: str


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0


@dataclass(frozen=True)
class Row:
    name: str
    options: dict[str, bool] | None
    scores: list[float]
    confusion: Confusion
    near_threshold: int  # pairs scoring within 0.1 of the threshold: how fragile the decisions are
    worst_nearby_f1: float  # lowest F1 over NEARBY_THRESHOLDS


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                pairs.append(Pair(row["id"], row["a"], row["b"], int(row["label"]), row["kind"]))
    return pairs


def option_grid() -> list[dict[str, bool]]:
    """Every combination of the Korean tokenizer's on/off options."""
    return [dict(zip(OPTION_NAMES, values)) for values in itertools.product((False, True), repeat=len(OPTION_NAMES))]


def score_pairs(pairs: Sequence[Pair], tokenize_many: TokenizeMany) -> list[float]:
    tokens = tokenize_many([text for pair in pairs for text in (pair.a, pair.b)])
    return [rouge_l_f(tokens[2 * i], tokens[2 * i + 1]) for i in range(len(pairs))]


def confusion(pairs: Sequence[Pair], scores: Sequence[float], threshold: float) -> Confusion:
    counts = {(True, 1): 0, (True, 0): 0, (False, 1): 0, (False, 0): 0}
    for pair, score in zip(pairs, scores):
        counts[(score > threshold, pair.label)] += 1
    return Confusion(tp=counts[(True, 1)], fp=counts[(True, 0)], fn=counts[(False, 1)], tn=counts[(False, 0)])


def make_row(name: str, options: dict[str, bool] | None, pairs: Sequence[Pair], scores: list[float],
             threshold: float) -> Row:
    return Row(
        name=name,
        options=options,
        scores=scores,
        confusion=confusion(pairs, scores, threshold),
        near_threshold=sum(1 for s in scores if abs(s - threshold) < 0.1),
        worst_nearby_f1=min(confusion(pairs, scores, t).f1 for t in NEARBY_THRESHOLDS),
    )


def _rouge_score_tokens(texts: Sequence[str]) -> list[list[str]]:
    """Tokens of rouge_score's default tokenizer (what Alpaca's filter compares)."""
    from rouge_score.tokenizers import DefaultTokenizer

    tokenizer = DefaultTokenizer(use_stemmer=False)
    return [tokenizer.tokenize(text) for text in texts]


def _eojeols(texts: Sequence[str]) -> list[list[str]]:
    return [text.lower().split() for text in texts]


def options_name(options: dict[str, bool]) -> str:
    dropped = [name.removeprefix("drop_") for name in OPTION_NAMES if options[name]]
    return "Kiwi, drop " + "+".join(dropped) if dropped else "Kiwi, drop nothing"


def evaluate(pairs: Sequence[Pair], threshold: float = 0.7) -> list[Row]:
    """One row per baseline and per option combination, in that order."""
    rows = [
        make_row("rouge_score default", None, pairs, score_pairs(pairs, _rouge_score_tokens), threshold),
        make_row("whitespace eojeols", None, pairs, score_pairs(pairs, _eojeols), threshold),
    ]
    for options in option_grid():
        scores = score_pairs(pairs, Korean(**options).tokenize_many)
        rows.append(make_row(options_name(options), options, pairs, scores, threshold))
    return rows


def best_row(rows: Sequence[Row]) -> Row:
    """The option row to use as default: highest F1, then fewest pairs near the threshold."""
    candidates = [row for row in rows if row.options is not None]
    return max(candidates, key=lambda row: (round(row.confusion.f1, 9), -row.near_threshold, row.worst_nearby_f1))


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| tokenizer | TP | FP | FN | TN | precision | recall | F1 | near 0.7 (±0.1) | worst F1 at 0.6–0.8 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        c = row.confusion
        lines.append(
            f"| {row.name} | {c.tp} | {c.fp} | {c.fn} | {c.tn} | {c.precision:.3f} | {c.recall:.3f} | "
            f"{c.f1:.3f} | {row.near_threshold} | {row.worst_nearby_f1:.3f} |"
        )
    return "\n".join(lines)


def kind_table(pairs: Sequence[Pair], row: Row, threshold: float) -> str:
    """Per kind of pair: how many the row calls duplicates."""
    lines = ["| kind | label | pairs | called duplicate | mean F |", "|---|---:|---:|---:|---:|"]
    kinds = sorted({(p.label, p.kind) for p in pairs}, key=lambda k: (-k[0], k[1]))
    for label, kind in kinds:
        scores = [s for p, s in zip(pairs, row.scores) if (p.label, p.kind) == (label, kind)]
        flagged = sum(1 for s in scores if s > threshold)
        lines.append(f"| {kind} | {label} | {len(scores)} | {flagged} | {sum(scores) / len(scores):.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="?", type=Path, default=PAIRS)
    parser.add_argument("--threshold", type=float, default=0.7)
    args = parser.parse_args(argv)
    pairs = load_pairs(args.pairs)
    rows = evaluate(pairs, args.threshold)
    positives = sum(p.label for p in pairs)
    print(f"{len(pairs)} pairs ({positives} paraphrases, {len(pairs) - positives} distinct tasks), "
          f"duplicate when ROUGE-L F > {args.threshold}\n")
    print(markdown_table(rows))
    best = best_row(rows)
    print(f"\nbest: {best.name} {best.options}; default: {Korean().options}\n")
    print(kind_table(pairs, best, args.threshold))
    mistakes = [(p, s) for p, s in zip(pairs, best.scores) if (s > args.threshold) != bool(p.label)]
    for pair, score in mistakes:
        print(f"\nmistake {pair.id} (label {pair.label}, F={score:.3f}): {pair.a} / {pair.b}")


if __name__ == "__main__":
    main()
