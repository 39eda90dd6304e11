"""`factory run --estimate`: requests, tokens, characters and cost before spending anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from factory.recipe import LoadedRecipe

#: share of parsed tasks that survive the filters when no run has measured it yet
#: (self-instruct and Alpaca kept roughly half of what the teacher produced)
DEFAULT_KEEP_RATE = 0.5


@dataclass
class Estimate:
    lines: list[tuple[str, str]] = field(default_factory=list)
    cost_usd: float = 0.0
    cost_usd_max: float = 0.0

    def add(self, label: str, value: Any) -> None:
        self.lines.append((label, str(value)))


def estimate_recipe(loaded: LoadedRecipe, run_dir) -> Estimate:
    from factory.context import RunContext
    from factory.costs import Budget, TokenPrice
    from factory.methods import MethodContext
    from factory.plan import build_plan
    from factory.progress import Progress
    from factory.runfolder import RunFolder

    recipe = loaded.recipe
    ctx = RunContext(loaded=loaded, run=RunFolder(run_dir), progress=Progress(quiet=True), budget=Budget(None))
    for stage in build_plan(loaded):
        if stage.name in ("seed", "source"):
            stage.run(ctx)
    result = Estimate()
    price = loaded.teacher.price() if loaded.teacher is not None else TokenPrice()
    if recipe.method:
        method = loaded.plugin("method").build()
        mctx = MethodContext(language=ctx.language, seeds=ctx.seeds, inputs=ctx.source_records,
                             recipe_seed=recipe.seed, batch_size=recipe.batch_size)
        done = ctx.run.state.accepted if ctx.run.exists() else _existing_accepted(ctx)
        remaining = max(0, recipe.method.target - done)
        keep_rate, rate_source = _observed_keep_rate(ctx)
        est = method.estimate(mctx, remaining, keep_rate)
        teacher = loaded.teacher.provenance()
        result.add("teacher", f"{teacher.label}  (${price.input_per_1m:g}/1M in, ${price.output_per_1m:g}/1M out)")
        result.add("kept so far / target", f"{done} / {recipe.method.target}")
        result.add("keep rate assumed", f"{keep_rate:.2f} ({rate_source})")
        result.add("requests", est.requests)
        per = f" (~{int(est.prompt_tokens / est.requests)} per request)" if est.requests else ""
        result.add("prompt tokens", f"~{int(est.prompt_tokens):,}{per}")
        result.add("completion tokens", f"~{int(est.completion_tokens):,} typical, at most {int(est.completion_tokens_max):,}")
        for label, value in est.notes:
            result.add(label, value)
        result.cost_usd, result.cost_usd_max = _method_cost(est, price, loaded, result)
    if recipe.translate:
        from factory.translation import estimate_translation

        for label, value, cost in estimate_translation(ctx):
            result.add(label, value)
            result.cost_usd += cost
            result.cost_usd_max += cost
    if recipe.translate and recipe.translate.regenerate_output:
        n = len([r for r in ctx.source_records if r.id not in ctx.source_rejections])
        per_out = 300
        result.add("regeneration requests", n)
        result.cost_usd += n * price.cost(150, per_out)
        result.cost_usd_max += n * price.cost(150, 1024)
    result.add("estimated cost", f"${result.cost_usd:.4f} (at most ${result.cost_usd_max:.4f})")
    if recipe.budget_usd is not None:
        result.add("budget_usd", f"${recipe.budget_usd:.2f}")
    return result


def _method_cost(est, price, loaded: LoadedRecipe, result: Estimate) -> tuple[float, float]:
    """Typical and highest cost: each role's share (a judge...) at its own teacher's price, the rest at the recipe's."""
    config = loaded.plugin("method")
    specs = config.cls.teachers_for(config.options)
    prompt, typical, most = est.prompt_tokens, est.completion_tokens, est.completion_tokens_max
    cost = cost_max = 0.0
    for role, part in est.by_role.items():
        role_price = specs[role].price() if role in specs else price
        prompt, typical, most = prompt - part.prompt_tokens, typical - part.completion_tokens, most - part.completion_tokens_max
        cost += role_price.cost(part.prompt_tokens, part.completion_tokens)
        cost_max += role_price.cost(part.prompt_tokens, part.completion_tokens_max)
        label = specs[role].provenance().label if role in specs else "the recipe's teacher"
        result.add(f"  of which {role}", f"{part.requests} requests to {label} "
                   f"(${role_price.input_per_1m:g}/1M in, ${role_price.output_per_1m:g}/1M out)")
    return (cost + price.cost(max(0.0, prompt), max(0.0, typical)),
            cost_max + price.cost(max(0.0, prompt), max(0.0, most)))


def _existing_accepted(ctx) -> int:
    path = ctx.run.accepted_path
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def _observed_keep_rate(ctx) -> tuple[float, str]:
    from factory.manifest import read_manifest

    manifest = read_manifest(ctx.run.stats_path)
    if manifest is not None:
        accepted, rejected = manifest.accepted, manifest.rejected
        if accepted + rejected >= 20:
            return max(0.01, accepted / (accepted + rejected)), f"observed in {ctx.run.path}"
    return DEFAULT_KEEP_RATE, "default"
