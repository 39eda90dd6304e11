"""Packing examples into rows and padding rows into batches.

Packing puts several examples into one ``max_length`` row (best-fit
decreasing, so rows fill well) and restarts ``position_ids`` at every example.
The collator then sends no attention mask: transformers reads the restarts as
packed-sequence boundaries and keeps attention inside each example (sdpa,
eager and flash attention alike), so packing saves padding without letting
examples see each other. Padding gets its own position run and label -100.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Sequence

from factory_peft.encoding import IGNORE_INDEX, Example


@dataclass
class PackedRow:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def pack(examples: Sequence[Example], max_length: int) -> list[PackedRow]:
    """Best-fit decreasing bin packing of examples into rows of at most ``max_length`` tokens."""
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i]), i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (remaining room, bin index), sorted
    for index in order:
        size = len(examples[index])
        slot = bisect.bisect_left(free, (size, -1))
        if slot < len(free):
            room, bin_index = free.pop(slot)
            bins[bin_index].append(index)
            bisect.insort(free, (room - size, bin_index))
        else:
            bins.append([index])
            bisect.insort(free, (max_length - size, len(bins) - 1))
    rows = []
    for members in bins:
        members.sort()  # keep the data order inside a row
        row = PackedRow([], [], [])
        for index in members:
            ex = examples[index]
            row.input_ids += ex.input_ids
            row.labels += ex.labels
            row.position_ids += list(range(len(ex)))
        rows.append(row)
    return rows


class SupervisedDataset:
    """A map-style dataset of examples or packed rows (what the Trainer's DataLoader iterates)."""

    def __init__(self, items: Sequence[Example | PackedRow]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        item = self.items[index]
        features = {"input_ids": item.input_ids, "labels": item.labels}
        if isinstance(item, PackedRow):
            features["position_ids"] = item.position_ids
        return features

    def token_count(self) -> int:
        return sum(len(item) for item in self.items)


@dataclass
class SupervisedCollator:
    """Right-pads a micro-batch: PAD ids, -100 labels, and a mask or restarted positions."""

    pad_id: int
    pad_to_multiple_of: int | None = None
    real_tokens: int = 0  # counters over every batch collated, for the padding report
    pad_tokens: int = 0

    def padding_fraction(self) -> float:
        total = self.real_tokens + self.pad_tokens
        return self.pad_tokens / total if total else 0.0

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        packed = "position_ids" in features[0]
        batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
        batch["position_ids" if packed else "attention_mask"] = []
        for f in features:
            gap = width - len(f["input_ids"])
            self.real_tokens += len(f["input_ids"])
            self.pad_tokens += gap
            batch["input_ids"].append(f["input_ids"] + [self.pad_id] * gap)
            batch["labels"].append(f["labels"] + [IGNORE_INDEX] * gap)
            if packed:
                batch["position_ids"].append(f["position_ids"] + list(range(gap)))
            else:
                batch["attention_mask"].append([1] * len(f["input_ids"]) + [0] * gap)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}
