"""Which Japanese tokenizer options separate paraphrases from distinct tasks at ROUGE-L 0.7?

Scores every labelled pair of ``tests/data/ja_pairs.jsonl`` (label 1: the same
task reworded only in particles, politeness, spacing and punctuation or
kana/kanji spelling; label 0: a different task sharing words) under every
combination of the ``Japanese`` options, and under three baselines:
rouge_score's default tokenizer (what Alpaca runs; it keeps only ``[a-z0-9]``),
whitespace words and single characters. "F > threshold" is the duplicate
decision, as in Alpaca's filter. The scoring itself is the core's
:mod:`factory.pairs_eval`; this module only lists the candidates.

    python -m factory_ja.evaluate [PAIRS.jsonl] [--threshold 0.7]

prints the markdown tables that docs/japanese.md quotes.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Sequence

from factory.pairs_eval import (
    Pair,
    Row,
    character_tokens,
    evaluate_tokenizers,
    parse_command_line,
    print_report,
    rouge_score_tokens,
    whitespace_tokens,
)

from factory_ja.analyzer import SPLIT_MODES
from factory_ja.language import Japanese

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "ja_pairs.jsonl"
#: The on/off options of the similarity tokenizer (split_mode is varied separately).
OPTION_NAMES = ("drop_particles", "drop_auxiliaries", "drop_symbols", "normalize")


def option_grid() -> list[dict[str, bool]]:
    """Every combination of the on/off options."""
    return [dict(zip(OPTION_NAMES, values)) for values in itertools.product((False, True), repeat=len(OPTION_NAMES))]


def options_name(options: dict[str, Any]) -> str:
    dropped = [name.removeprefix("drop_") for name in OPTION_NAMES if name.startswith("drop_") and options[name]]
    parts = ["drop " + "+".join(dropped) if dropped else "drop nothing"]
    parts.append("normalized" if options["normalize"] else "surface")
    if "split_mode" in options:
        parts.insert(0, f"mode {options['split_mode']}")
    return ", ".join(parts)


def evaluate(pairs: Sequence[Pair], threshold: float = 0.7, modes: Sequence[str] = SPLIT_MODES) -> list[Row]:
    """Baselines first, then one row per split mode and option combination."""
    candidates: list = [
        ("rouge_score default", None, rouge_score_tokens),
        ("whitespace words", None, whitespace_tokens),
        ("characters", None, character_tokens),
    ]
    for mode in modes:
        for flags in option_grid():
            options = {"split_mode": mode, **flags}
            candidates.append((f"Sudachi {options_name(options)}", options, Japanese(**options).tokenize_many))
    return evaluate_tokenizers(pairs, candidates, threshold)


def main(argv: Sequence[str] | None = None) -> None:
    pairs, threshold = parse_command_line(argv, __doc__.splitlines()[0], PAIRS)
    print_report(pairs, evaluate(pairs, threshold), threshold, Japanese().options.model_dump(), show_kind=True)


if __name__ == "__main__":
    main()
