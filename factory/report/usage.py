"""Per-stage requests, tokens, characters, cost and time, from ``stats.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

USAGE_KEYS = ("requests", "cached_requests", "failed_requests", "retries", "prompt_tokens", "completion_tokens",
              "billed_characters", "cached_characters", "cost_usd")


@dataclass(frozen=True)
class StageUsage:
    stage: str
    seconds: float | None
    accepted: int | None
    rejected: int | None
    usage: dict[str, float] = field(default_factory=dict)  # USAGE_KEYS present in stats, 0 when absent

    def get(self, key: str) -> float:
        return self.usage.get(key, 0)


def stage_usage(stats: dict[str, Any]) -> list[StageUsage]:
    """One row per stage that ran or used a service, in the order the stages ran."""
    stages = stats.get("stages") or {}
    usage = stats.get("usage") or {}
    rows = []
    for name in list(stages) + [s for s in usage if s not in stages]:
        entry = stages.get(name) or {}
        used = usage.get(name) or {}
        rows.append(StageUsage(
            stage=str(name),
            seconds=entry.get("seconds"),
            accepted=entry.get("accepted"),
            rejected=entry.get("rejected"),
            usage={key: used.get(key, 0) or 0 for key in USAGE_KEYS},
        ))
    return rows


def has_usage(rows: list[StageUsage]) -> bool:
    return any(row.get(key) for row in rows for key in USAGE_KEYS)
