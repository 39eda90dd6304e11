"""Collate TRL's packed rows as rows, for attention kernels that are not variable-length.

TRL packs examples best-fit into ``max_length`` rows and then, padding-free,
concatenates a whole micro batch into one flat row: no padding at all, and
with FlashAttention's variable-length kernels no wasted attention either.
With sdpa or eager attention (CPUs, GPUs without flash-attn) that flat row of
``micro_batch_size x max_length`` tokens is attended as one block-masked
square, micro_batch_size times the attention work of the rows themselves:
benchmarks/training.py measured 9,042 real tokens/s flat against 25,779 as
rows on the tiny LLaMA, 1,983 against 3,243 at hidden 256 and 4 layers
(docs/performance.md). So for those kernels this collator keeps TRL's packed
rows and pads each micro batch to its longest row instead (10% padding there).

Attention still stays within each example: the collator sends restarted
``position_ids`` and no attention mask, and transformers reads the restarts
as packed-sequence boundaries (sdpa, eager and flash alike). Padding gets a
position run of its own and label -100, and the first token of each example
is never a target, so no example learns from the one packed before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from factory_peft.lengths import IGNORE_INDEX

#: attention implementations with variable-length kernels: TRL's flat padding-free batches suit them
VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3")


def uses_varlen_attention(model: Any) -> bool:
    name = str(getattr(model.config, "_attn_implementation", "") or "")
    return name in VARLEN_ATTENTION or "flash" in name


@dataclass
class PackedRowsCollator:
    """Right-pads packed rows (``input_ids``, ``labels``, ``seq_lengths``) into a batch with restarted positions."""

    pad_id: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "position_ids": []}
        for f in features:
            gap = width - len(f["input_ids"])
            positions = [i for length in f["seq_lengths"] for i in range(length)] + list(range(gap))
            labels = [IGNORE_INDEX if position == 0 else label for label, position in zip(f["labels"], positions)]
            batch["input_ids"].append(list(f["input_ids"]) + [self.pad_id] * gap)
            batch["labels"].append(labels + [IGNORE_INDEX] * gap)
            batch["position_ids"].append(positions)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}
