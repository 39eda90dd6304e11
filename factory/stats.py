"""Build the run manifest (stats.json) from a run's context: counts, usage from the ledger, provenance."""

from __future__ import annotations

import time

from factory import __version__
from factory.context import RunContext
from factory.manifest import RunManifest, StageStats, Status, UsageStats


def _iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def build_stats(ctx: RunContext, status: Status, stop_reason: str | None = None) -> RunManifest:
    recipe = ctx.recipe
    usage = {stage: UsageStats(**u.as_dict()) for stage, u in ctx.usage.items()}
    totals = UsageStats()
    for entry in usage.values():
        totals = totals + entry
    state = ctx.run.state
    stages = {stage: StageStats(seconds=round(seconds, 3)) for stage, seconds in ctx.stage_seconds.items()}
    data_stage = "generate" if recipe.method else ("translate" if recipe.translate else "filter")
    if recipe.is_data_recipe:
        entry = stages.setdefault(data_stage, StageStats())
        entry.accepted, entry.rejected, entry.batches = state.accepted, state.rejected, state.batches_done
    provenance = ctx.provenance.model_copy()
    provenance.factory_version = __version__
    if recipe.is_data_recipe:
        provenance.language = ctx.loaded.plugin("language").identity
        if recipe.method:
            provenance.method = recipe.method.plugin
            provenance.method_identity = ctx.loaded.plugin("method").identity
            provenance.seed_set = ctx.seed_info
        if recipe.has_source:
            provenance.source = ctx.seed_info if not recipe.method else provenance.source
        if ctx.loaded.teacher is not None and provenance.teacher is None:
            provenance.teacher = ctx.loaded.teacher.provenance()
        if recipe.translate:
            provenance.translator = provenance.translator or translator_provenance(ctx)
            t = recipe.translate
            provenance.translation = {"source_lang": t.source_lang, "target_lang": t.target_lang or recipe.language,
                                      "fields": list(t.fields), "regenerate_output": t.regenerate_output}
    method_summary = None
    if recipe.method:
        method_summary = ctx.loaded.plugin("method").cls.run_summary(ctx.run.path)
    elif recipe.source and any(r.is_preference for r in ctx.source_records or ()):
        from factory.preferences import run_summary  # human preference sources (votes, oasst, TRL rows)

        method_summary = run_summary(ctx.run.path)
    return RunManifest(
        recipe=recipe.name,
        language=recipe.language,
        status=status,
        stop_reason=stop_reason,
        started_at=_iso(state.started_at),
        finished_at=_iso(time.time()) if status == "finished" else None,
        accepted=state.accepted,
        rejected=state.rejected,
        target=recipe.method.target if recipe.method else None,
        stages=stages,
        rejections=dict(sorted(ctx.rejections.items(), key=lambda kv: -kv[1])),
        usage=usage,
        totals=totals,
        budget_usd=recipe.budget_usd,
        method_summary=method_summary,
        provenance=provenance,
        executor=ctx.executor.describe() if ctx.executor is not None else None,
        endpoints=ctx.endpoint_stats(),
    )


def translator_provenance(ctx: RunContext):
    from factory.translators import TranslatorProvenance

    config = ctx.loaded.plugin("translate")
    description = config.cls.describe_for(config.options)
    return TranslatorProvenance(plugin=config.name, identity=config.identity, **description.model_dump())
