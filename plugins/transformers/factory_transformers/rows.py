"""One request as the batch generator sees it, and what it gives back (plain data, no torch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowSpec:
    """A tokenized prompt and how to continue it; rows of one batch may all differ."""

    prompt_ids: tuple[int, ...]
    max_new_tokens: int
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int | None = None
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0  # seeds this row's own random generator


@dataclass(frozen=True)
class RowResult:
    text: str
    finish_reason: str  # "stop" (end of sequence or a stop string) or "length"
    prompt_tokens: int
    completion_tokens: int  # tokens the model generated, the end-of-sequence token included
