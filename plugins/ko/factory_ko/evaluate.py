"""Which Korean tokenizer options separate paraphrases from distinct tasks at ROUGE-L 0.7?

Scores every labelled pair of ``tests/data/ko_pairs.jsonl`` (label 1: the same
task reworded only in particles, endings, spacing or politeness; label 0: a
different task sharing words) with ROUGE-L F under every combination of the
``Korean`` options, and under two baselines: rouge_score's default tokenizer
(what Alpaca and KoAlpaca run; it keeps only ``[a-z0-9]``) and whitespace
eojeols. "F > threshold" is the duplicate decision, as in Alpaca's filter.
The scoring itself is the core's :mod:`factory.pairs_eval`; this module only
lists the candidates.

    python -m factory_ko.evaluate [PAIRS.jsonl] [--threshold 0.7]

prints the markdown tables that docs/korean.md quotes.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Sequence

from factory.pairs_eval import (
    Pair,
    Row,
    evaluate_tokenizers,
    parse_command_line,
    print_report,
    rouge_score_tokens,
    whitespace_tokens,
)

from factory_ko.language import Korean

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "ko_pairs.jsonl"
OPTION_NAMES = ("drop_particles", "drop_endings", "drop_symbols")


def option_grid() -> list[dict[str, bool]]:
    """Every combination of the Korean tokenizer's on/off options."""
    return [dict(zip(OPTION_NAMES, values)) for values in itertools.product((False, True), repeat=len(OPTION_NAMES))]


def options_name(options: dict[str, bool]) -> str:
    dropped = [name.removeprefix("drop_") for name in OPTION_NAMES if options[name]]
    return "Kiwi, drop " + "+".join(dropped) if dropped else "Kiwi, drop nothing"


def evaluate(pairs: Sequence[Pair], threshold: float = 0.7) -> list[Row]:
    """One row per baseline and per option combination, in that order."""
    candidates: list = [
        ("rouge_score default", None, rouge_score_tokens),
        ("whitespace eojeols", None, whitespace_tokens),
    ]
    for options in option_grid():
        candidates.append((options_name(options), options, Korean(**options).tokenize_many))
    return evaluate_tokenizers(pairs, candidates, threshold)


def main(argv: Sequence[str] | None = None) -> None:
    pairs, threshold = parse_command_line(argv, __doc__.splitlines()[0], PAIRS)
    print_report(pairs, evaluate(pairs, threshold), threshold, Korean().options.model_dump(), show_kind=False)


if __name__ == "__main__":
    main()
