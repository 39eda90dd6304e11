"""The rejection funnel: candidates of the data stage, minus each rejection reason in pipeline order.

Counts come from ``stats.json`` (what the engine counted, across resumes);
a folder without it falls back to counting ``rejected.jsonl``. Reasons are
ordered as the filters run (:func:`factory.filtering.all_reasons`: parsing and
request failures, then the rule filters, then near-duplicates), so each
step of the funnel shows what a filter removed from what reached it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from factory.filtering import all_reasons


@dataclass(frozen=True)
class FunnelStep:
    reason: str
    rejected: int
    remaining: int  # candidates left after this step


@dataclass(frozen=True)
class Funnel:
    stage: str  # the data stage (generate, translate or filter)
    candidates: int
    kept: int
    steps: list[FunnelStep]


def rejection_counts(stats: dict[str, Any], rejected: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Rejections per reason, in pipeline order; reasons unknown to this version come last, by count."""
    counts = {str(k): int(v) for k, v in (stats.get("rejections") or {}).items() if v}
    if not counts:
        counts = dict(Counter(str(row.get("reason") or "unknown") for row in rejected))
    reasons = all_reasons()
    known = [reason for reason in reasons if reason in counts]
    other = sorted((r for r in counts if r not in reasons), key=lambda r: (-counts[r], r))
    return {reason: counts[reason] for reason in known + other}


def data_stage(stats: dict[str, Any]) -> str:
    """The stage that counted accepted and rejected records (named in stats ``stages``)."""
    for stage, entry in (stats.get("stages") or {}).items():
        if isinstance(entry, dict) and ("accepted" in entry or "rejected" in entry):
            return str(stage)
    return "generate"


def funnel(stats: dict[str, Any], rejected: Sequence[dict[str, Any]], accepted: int) -> Funnel:
    counts = rejection_counts(stats, rejected)
    candidates = accepted + sum(counts.values())
    steps, remaining = [], candidates
    for reason, count in counts.items():
        remaining -= count
        steps.append(FunnelStep(reason, count, remaining))
    return Funnel(stage=data_stage(stats), candidates=candidates, kept=accepted, steps=steps)


def examples(rejected: Sequence[dict[str, Any]], reasons: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The first rejected record of each reason (what the filter saw)."""
    found: dict[str, dict[str, Any]] = {}
    wanted = set(reasons)
    for row in rejected:
        reason = str(row.get("reason") or "unknown")
        if reason in wanted and reason not in found:
            found[reason] = row
            if len(found) == len(wanted):
                break
    return found


def describe(reason: str) -> str:
    return all_reasons().get(reason, "")
