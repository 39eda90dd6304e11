"""stats.json: counts per stage and rejection reason, usage, cost, timings and provenance."""

from __future__ import annotations

import time
from typing import Any

from factory import __version__
from factory.context import RunContext


def _iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def build_stats(ctx: RunContext, finished: bool) -> dict[str, Any]:
    recipe = ctx.recipe
    usage = {stage: u.as_dict() for stage, u in ctx.usage.items()}
    totals_keys = ("requests", "cached_requests", "failed_requests", "retries", "prompt_tokens",
                   "completion_tokens", "billed_characters", "cached_characters", "cost_usd")
    totals = {key: sum(u.get(key, 0) for u in usage.values()) for key in totals_keys}
    totals["cost_usd"] = round(totals["cost_usd"], 6)
    state = ctx.run.state
    stages: dict[str, Any] = {}
    for stage, seconds in ctx.stage_seconds.items():
        stages[stage] = {"seconds": round(seconds, 3)}
    data_stage = "generate" if recipe.method else ("translate" if recipe.translate else "filter")
    if recipe.is_data_recipe:
        stages.setdefault(data_stage, {}).update({"accepted": state.accepted, "rejected": state.rejected,
                                                  "batches": state.batches_done})
    filters = recipe.filters
    language = ctx.language if recipe.is_data_recipe else None
    provenance = {
        "method": recipe.method.plugin if recipe.method else None,
        "teacher": ctx.provenance.get("teacher") or ({"plugin": recipe.teacher.plugin} if recipe.teacher else None),
        "translator": ({"plugin": recipe.translate.plugin, "source_lang": recipe.translate.source_lang,
                        "target_lang": recipe.translate.target_lang or recipe.language,
                        "fields": recipe.translate.fields, "regenerate_output": recipe.translate.regenerate_output,
                        "identity": ctx.provenance.get("translator")}
                       if recipe.translate else None),
        "seed_set": ctx.seed_info if recipe.method else None,
        "source": ctx.seed_info if recipe.source else None,
        "prompt_sha256": ctx.provenance.get("prompt_sha256"),
        "filters": {
            "similarity": filters.similarity.model_dump(),
            "min_instruction_words": filters.min_instruction_words if filters.min_instruction_words is not None
            else (language.min_instruction_words if language else None),
            "max_instruction_words": filters.max_instruction_words if filters.max_instruction_words is not None
            else (language.max_instruction_words if language else None),
            **{k: v for k, v in filters.model_dump().items() if isinstance(v, bool)},
        },
        "factory_version": __version__,
    }
    return {
        "recipe": recipe.name,
        "language": recipe.language,
        "status": "finished" if finished else "in progress",
        "started_at": _iso(state.started_at),
        "finished_at": _iso(time.time()) if finished else None,
        "accepted": state.accepted,
        "rejected": state.rejected,
        "target": recipe.method.target if recipe.method else None,
        "stages": stages,
        "rejections": dict(sorted(ctx.rejections.items(), key=lambda kv: -kv[1])),
        "usage": usage,
        "totals": totals,
        "budget_usd": recipe.budget_usd,
        "provenance": provenance,
    }
