"""What a run measured: the objective's metrics first and last, and the padding it fed the model.

A preference run is judged by how its metrics moved (reward margins and
accuracies rising, the loss falling), so ``metrics.json`` keeps each key
metric's first and last logged value with their steps. They come from the
Trainer's log history, which a resumed run restores from its checkpoint, so
the first values are those of the original start, not of the resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


def first_and_last(log_history: Iterable[dict[str, Any]], keys: Iterable[str]) -> dict[str, dict[str, float]]:
    """``{metric: {first, last, first_step, last_step}}`` over the training logs (not eval, not the summary)."""
    logs = [entry for entry in log_history if "loss" in entry and "train_loss" not in entry]
    summary: dict[str, dict[str, float]] = {}
    for key in keys:
        points = [(entry.get("step", 0), entry[key]) for entry in logs if isinstance(entry.get(key), (int, float))]
        if points:
            summary[key] = {"first": points[0][1], "last": points[-1][1],
                            "first_step": points[0][0], "last_step": points[-1][0]}
    return summary


@dataclass
class PaddingMeter:
    """Wraps a collator and counts the real and padding tokens of every batch it builds.

    PAD is a token of its own (never EOS), so a token equal to PAD is padding.
    The prompt-only columns of ORPO batches are not forwarded alone and are skipped.
    """

    collator: Any
    pad_id: int
    real_tokens: int = 0
    pad_tokens: int = 0

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(features)
        for key, value in batch.items():
            if key.endswith("input_ids") and not key.startswith("prompt") and hasattr(value, "numel"):
                real = int((value != self.pad_id).sum())
                self.real_tokens += real
                self.pad_tokens += value.numel() - real
        return batch

    def padding_fraction(self) -> float:
        total = self.real_tokens + self.pad_tokens
        return self.pad_tokens / total if total else 0.0
