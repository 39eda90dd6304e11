"""Synthetic instruction files for dedup tests and benchmarks: seeded, with a known share of near-duplicates."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Iterable

_VERBS = ["Write", "Explain", "List", "Describe", "Summarize", "Compare", "Translate", "Classify", "Suggest",
          "Rewrite", "Give", "Name", "Outline", "Create", "Find"]
_WORDS = ("poem story essay tips reasons ways steps facts ideas names examples sentence paragraph letter email "
          "recipe plan list table the a an of to for about in on with and or three five ten short long simple "
          "formal funny sad happy new old small large quick slow ocean sea river mountain city village school "
          "teacher student doctor computer phone garden kitchen coffee music history science planet star water "
          "cycle money groceries travel winter summer friend family dog cat bird tree").split()


def synthetic_instructions(n: int, seed: int = 0, duplicate_share: float = 0.3) -> list[str]:
    """``n`` instructions; about ``duplicate_share`` of them are an earlier one with a word or two changed."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(n):
        if texts and rng.random() < duplicate_share:
            words = rng.choice(texts).split()
            for _ in range(rng.randint(1, 2)):
                words[rng.randrange(len(words))] = rng.choice(_WORDS)
            texts.append(" ".join(words))
        else:
            length = rng.randint(6, 18)
            texts.append(" ".join([rng.choice(_VERBS)] + [rng.choice(_WORDS) for _ in range(length)]) + ".")
    return texts


def write_synthetic_jsonl(path: Path, n: int, seed: int = 0, duplicate_share: float = 0.3) -> Path:
    """A JSONL file of ``{"id", "instruction", "input", "output"}`` rows (see :func:`synthetic_instructions`)."""
    return write_instruction_rows(path, synthetic_instructions(n, seed, duplicate_share))


def write_instruction_rows(path: Path, instructions: Iterable[str]) -> Path:
    """``{"id": "r<i>", "instruction", "input": "", "output"}`` JSONL rows, one per instruction."""
    rows = (json.dumps({"id": f"r{i}", "instruction": text, "input": "", "output": f"answer {i}"}) + "\n"
            for i, text in enumerate(instructions))
    Path(path).write_text("".join(rows), encoding="utf-8")
    return Path(path)
