"""Figures about conversations, shared by the dataset card and the report: turns per conversation, length of a
turn by role, sources and split parts."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Callable, Sequence

from factory.records import Record


def _spread(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"min": 0, "median": 0, "mean": 0, "max": 0}
    return {"min": min(values), "median": statistics.median(values), "mean": round(statistics.fmean(values), 2),
            "max": max(values)}


def summarize(records: Sequence[Record], count: Callable[[str], int] | None = None) -> dict:
    """``count`` measures a turn (the language plugin's token count in the report); default: whitespace words."""
    count = count or (lambda text: len(text.split()))
    turns = [len([m for m in r.messages if m["role"] != "system"]) for r in records]
    by_role: dict[str, list[int]] = {}
    for record in records:
        for m in record.messages:
            by_role.setdefault(m["role"], []).append(count(m["content"]))
    sources = Counter(str(r.meta.get("source_name")) for r in records if r.meta.get("source_name"))
    return {
        "conversations": len(records),
        "multi_turn": sum(1 for r in records if len(r.turns("user")) > 1),
        "turns_per_conversation": _spread(turns),
        "turn_histogram": dict(sorted(Counter(turns).items())),
        "tokens_per_turn": {role: _spread(values) for role, values in sorted(by_role.items())},
        "sources": dict(sources.most_common()),
        "split_parts": sum(1 for r in records if r.meta.get("part")),
    }


def is_conversational(summary: dict) -> bool:
    return bool(summary.get("multi_turn") or summary.get("sources") or summary.get("split_parts"))
