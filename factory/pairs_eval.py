"""Does a similarity tokenizer separate paraphrases from distinct tasks? Measure it on labelled pairs.

A language plugin's tokenizer decides which generated instructions the
near-duplicate filter drops (ROUGE-L F above a threshold, 0.7 in Alpaca).
Whether it decides well is an empirical question, so every language plugin
that ships a tokenizer with options also ships a set of labelled pairs
(label 1: the same task reworded; label 0: a different task sharing words)
and measures each option combination on it with these functions. The
plugin's own ``evaluate`` module only lists its candidate tokenizers.

A pairs file holds one JSON object per line::

    {"id": "p001", "label": 1, "kind": "particles", "a": "...", "b": "..."}
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from factory.errors import UserError
from factory.similarity import rouge_l_f

#: Batch tokenizer: texts in, one token list per text out (``Language.tokenize_many``).
TokenizeMany = Callable[[Sequence[str]], list[list[str]]]
#: Thresholds over which :class:`Row` reports the worst F1 (how robust the decisions are).
NEARBY_THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8)


@dataclass(frozen=True)
class Pair:
    id: str
    a: str
    b: str
    label: int  # 1: paraphrase (should be called a duplicate), 0: distinct task
    kind: str  # what differs: "particles", "politeness", "shared_words", ...


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
    """One tokenizer's result on the pairs."""

    name: str
    options: dict[str, Any] | None  # None for baselines that are not an option combination
    scores: list[float]
    confusion: Confusion
    near_threshold: int  # pairs within 0.1 of the threshold: how fragile the decisions are
    worst_nearby_f1: float  # lowest F1 over NEARBY_THRESHOLDS


def load_pairs(path: str | Path) -> list[Pair]:
    """Read a labelled pairs file; a malformed line is a UserError naming file and line."""
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pair = Pair(str(row["id"]), str(row["a"]), str(row["b"]), int(row["label"]), str(row["kind"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise UserError(f"{path}:{number}: not a labelled pair ({exc.__class__.__name__}: {exc})") from None
            if pair.label not in (0, 1):
                raise UserError(f"{path}:{number}: label must be 0 or 1, got {pair.label}")
            pairs.append(pair)
    return pairs


def dedup_pairs_with_cli(pairs: Sequence[Pair], language: str, folder: Path) -> dict[str, dict[str, Any]]:
    """Run `factory dedup --language LANG` with every pair's second text against all first texts (the
    pooled, greedy check generation does); returns the rejected records by id (``b-<pair id>``)."""
    from factory.errors import FactoryError
    from factory.testing.helpers import run_cli

    firsts, seconds = folder / "a.jsonl", folder / "b.jsonl"
    for path, side in ((firsts, "a"), (seconds, "b")):
        path.write_text("".join(json.dumps({"id": f"{side}-{p.id}", "instruction": getattr(p, side)}, ensure_ascii=False)
                                + "\n" for p in pairs), encoding="utf-8")
    kept, rejected = folder / "kept.jsonl", folder / "rejected.jsonl"
    result = run_cli("dedup", str(seconds), "-o", str(kept), "--language", language, "--against", str(firsts),
                     "--rejected", str(rejected))
    if result.returncode != 0:
        raise FactoryError(f"factory dedup failed: {result.stderr.strip()}")
    rows = [json.loads(line) for line in rejected.read_text(encoding="utf-8").splitlines()]
    return {row["id"]: row for row in rows}


def score_pairs(pairs: Sequence[Pair], tokenize_many: TokenizeMany) -> list[float]:
    """ROUGE-L F of each pair under one tokenizer (both texts tokenized in one batch)."""
    tokens = tokenize_many([text for pair in pairs for text in (pair.a, pair.b)])
    return [rouge_l_f(tokens[2 * i], tokens[2 * i + 1]) for i in range(len(pairs))]


def confusion(pairs: Sequence[Pair], scores: Sequence[float], threshold: float) -> Confusion:
    """Counts of the decision "duplicate when F > threshold" (Alpaca's rule) against the labels."""
    counts = {(True, 1): 0, (True, 0): 0, (False, 1): 0, (False, 0): 0}
    for pair, score in zip(pairs, scores):
        counts[(score > threshold, pair.label)] += 1
    return Confusion(tp=counts[(True, 1)], fp=counts[(True, 0)], fn=counts[(False, 1)], tn=counts[(False, 0)])


def make_row(name: str, options: dict[str, Any] | None, pairs: Sequence[Pair], scores: list[float],
             threshold: float) -> Row:
    return Row(
        name=name,
        options=options,
        scores=scores,
        confusion=confusion(pairs, scores, threshold),
        near_threshold=sum(1 for s in scores if abs(s - threshold) < 0.1),
        worst_nearby_f1=min(confusion(pairs, scores, t).f1 for t in NEARBY_THRESHOLDS),
    )


def evaluate_tokenizers(pairs: Sequence[Pair],
                        candidates: Sequence[tuple[str, dict[str, Any] | None, TokenizeMany]],
                        threshold: float = 0.7) -> list[Row]:
    """One row per ``(name, options, tokenize_many)`` candidate, in the given order."""
    return [make_row(name, options, pairs, score_pairs(pairs, tokenize_many), threshold)
            for name, options, tokenize_many in candidates]


def best_row(rows: Sequence[Row]) -> Row:
    """The option row to use as default: highest F1, then fewest pairs near the threshold, then robustness."""
    candidates = [row for row in rows if row.options is not None]
    return max(candidates, key=lambda row: (round(row.confusion.f1, 9), -row.near_threshold, row.worst_nearby_f1))


# -- baselines every language can be compared with ------------------------------
def rouge_score_tokens(texts: Sequence[str]) -> list[list[str]]:
    """Tokens of rouge_score's default tokenizer (what Alpaca's filter compares: ``[a-z0-9]+`` only)."""
    from rouge_score.tokenizers import DefaultTokenizer

    tokenizer = DefaultTokenizer(use_stemmer=False)
    return [tokenizer.tokenize(text) for text in texts]


def whitespace_tokens(texts: Sequence[str]) -> list[list[str]]:
    return [text.lower().split() for text in texts]


def character_tokens(texts: Sequence[str]) -> list[list[str]]:
    """Letters and digits one by one (a common fallback for languages written without spaces)."""
    return [[ch for ch in text.lower() if ch.isalnum()] for text in texts]


# -- reports ----------------------------------------------------------------------
def markdown_table(rows: Sequence[Row], threshold: float = 0.7) -> str:
    low, high = min(NEARBY_THRESHOLDS), max(NEARBY_THRESHOLDS)
    lines = [
        f"| tokenizer | TP | FP | FN | TN | precision | recall | F1 | near {threshold:g} (±0.1) | "
        f"worst F1 at {low:g}–{high:g} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        c = row.confusion
        lines.append(
            f"| {row.name} | {c.tp} | {c.fp} | {c.fn} | {c.tn} | {c.precision:.3f} | {c.recall:.3f} | "
            f"{c.f1:.3f} | {row.near_threshold} | {row.worst_nearby_f1:.3f} |"
        )
    return "\n".join(lines)


def kind_table(pairs: Sequence[Pair], row: Row, threshold: float = 0.7) -> str:
    """Per kind of pair: how many the row calls duplicates, and the mean F."""
    lines = ["| kind | label | pairs | called duplicate | mean F |", "|---|---:|---:|---:|---:|"]
    kinds = sorted({(p.label, p.kind) for p in pairs}, key=lambda k: (-k[0], k[1]))
    for label, kind in kinds:
        scores = [s for p, s in zip(pairs, row.scores) if (p.label, p.kind) == (label, kind)]
        flagged = sum(1 for s in scores if s > threshold)
        lines.append(f"| {kind} | {label} | {len(scores)} | {flagged} | {sum(scores) / len(scores):.3f} |")
    return "\n".join(lines)


def mistakes(pairs: Sequence[Pair], row: Row, threshold: float = 0.7) -> list[tuple[Pair, float]]:
    """The pairs the row decides against their label, with their scores."""
    return [(p, s) for p, s in zip(pairs, row.scores) if (s > threshold) != bool(p.label)]


# -- the plugins' ``python -m factory_xx.evaluate`` commands ----------------------
def parse_command_line(argv: Sequence[str] | None, description: str,
                       default_pairs: Path) -> tuple[list[Pair], float]:
    """The pairs and threshold from ``[PAIRS.jsonl] [--threshold 0.7]``, shared by every language's evaluate command."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("pairs", nargs="?", type=Path, default=default_pairs)
    parser.add_argument("--threshold", type=float, default=0.7)
    args = parser.parse_args(argv)
    return load_pairs(args.pairs), args.threshold


def print_report(pairs: Sequence[Pair], rows: Sequence[Row], threshold: float, default_options: dict[str, Any],
                 *, show_kind: bool) -> None:
    """Print the tables a language's docs quote: all rows, the best row by kind of pair, then its mistakes.

    One function so every language reports the same way; ``show_kind`` adds
    each mistake's kind of pair (for pair sets with many kinds).
    """
    positives = sum(p.label for p in pairs)
    print(f"{len(pairs)} pairs ({positives} paraphrases, {len(pairs) - positives} distinct tasks), "
          f"duplicate when ROUGE-L F > {threshold}\n")
    print(markdown_table(rows, threshold))
    best = best_row(rows)
    print(f"\nbest: {best.name} {best.options}; default: {default_options}\n")
    print(kind_table(pairs, best, threshold))
    for pair, score in mistakes(pairs, best, threshold):
        kind = f"{pair.kind}, " if show_kind else ""
        print(f"\nmistake {pair.id} ({kind}label {pair.label}, F={score:.3f}): {pair.a} / {pair.b}")
