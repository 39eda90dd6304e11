"""`factory run --estimate`: requests, tokens, characters and cost before spending anything."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from factory.recipe import LoadedRecipe

#: share of parsed tasks that survive the filters when no run has measured it yet
#: (self-instruct and Alpaca kept roughly half of what the teacher produced)
DEFAULT_KEEP_RATE = 0.5


def approx_tokens(text: str) -> int:
    """Rough BPE token count: ~4 ASCII characters a token, ~1 token per other character (Hangul, kana)."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return max(1, math.ceil(ascii_chars / 4) + (len(text) - ascii_chars))


@dataclass
class Estimate:
    lines: list[tuple[str, str]] = field(default_factory=list)
    cost_usd: float = 0.0
    cost_usd_max: float = 0.0

    def add(self, label: str, value: Any) -> None:
        self.lines.append((label, str(value)))


def estimate_recipe(loaded: LoadedRecipe, run_dir) -> Estimate:
    from factory.context import RunContext
    from factory.costs import Budget
    from factory.plan import build_plan
    from factory.progress import Progress
    from factory.runfolder import RunFolder

    recipe = loaded.recipe
    ctx = RunContext(loaded=loaded, run=RunFolder(run_dir), progress=Progress(quiet=True), budget=Budget(None))
    for stage in build_plan(loaded):
        if stage.name in ("seed", "source"):
            stage.run(ctx)
    result = Estimate()
    teacher_opts = loaded.plugin_options.get("teacher", {})
    settings = loaded.plugin_options.get("teacher_settings", {})
    price_override = settings.get("price")
    model = str(teacher_opts.get("model") or teacher_opts.get("bundled") or "")
    if price_override:
        price_in, price_out = price_override["input_per_1m"], price_override["output_per_1m"]
    elif recipe.teacher:
        from factory.plugins import get_plugin
        from factory.teacher_factory import teacher_price

        price = teacher_price(get_plugin("teacher", recipe.teacher.plugin), teacher_opts)
        price_in, price_out = price.input_per_1m, price.output_per_1m
    else:
        price_in = price_out = 0.0
    if recipe.method:
        from factory.plugins import get_plugin

        method = get_plugin("method", recipe.method.plugin)(**loaded.plugin_options.get("method", {}))
        done = ctx.run.state.accepted if ctx.run.exists() else _existing_accepted(ctx)
        remaining = max(0, recipe.method.target - done)
        opts = method.options
        tasks_per_request = max(1, opts.num_tasks - min(opts.num_prompt_instructions, len(ctx.seeds)) - 1)
        keep_rate, rate_source = _observed_keep_rate(ctx)
        requests = math.ceil(remaining / (tasks_per_request * keep_rate)) if remaining else 0
        sample = method.requests_for_batch(0, min(8, max(1, recipe.batch_size)), ctx.seeds, ctx.language, recipe.seed)
        prompt_tokens = sum(approx_tokens(r.prompt or "") for r in sample) / len(sample)
        typical_out = min(opts.max_tokens, tasks_per_request * 80)
        result.add("teacher", f"{recipe.teacher.plugin}:{model}  (${price_in}/1M in, ${price_out}/1M out)")
        result.add("kept so far / target", f"{done} / {recipe.method.target}")
        result.add("keep rate assumed", f"{keep_rate:.2f} ({rate_source})")
        result.add("requests", requests)
        result.add("prompt tokens", f"~{int(requests * prompt_tokens):,} (~{int(prompt_tokens)} per request)")
        result.add("completion tokens", f"~{requests * typical_out:,} typical, at most {requests * opts.max_tokens:,}")
        result.cost_usd = requests * (prompt_tokens * price_in + typical_out * price_out) / 1e6
        result.cost_usd_max = requests * (prompt_tokens * price_in + opts.max_tokens * price_out) / 1e6
    if recipe.translate:
        from factory.translation import estimate_translation

        for label, value, cost in estimate_translation(ctx):
            result.add(label, value)
            result.cost_usd += cost
            result.cost_usd_max += cost
    if recipe.translate and recipe.translate.regenerate_output:
        n = len(ctx.source_records)
        per_out = 300
        result.add("regeneration requests", n)
        result.cost_usd += n * (150 * price_in + per_out * price_out) / 1e6
        result.cost_usd_max += n * (150 * price_in + 1024 * price_out) / 1e6
    result.add("estimated cost", f"${result.cost_usd:.4f} (at most ${result.cost_usd_max:.4f})")
    if recipe.budget_usd is not None:
        result.add("budget_usd", f"${recipe.budget_usd:.2f}")
    return result


def _existing_accepted(ctx) -> int:
    path = ctx.run.accepted_path
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def _observed_keep_rate(ctx) -> tuple[float, str]:
    import json

    if ctx.run.stats_path.exists():
        stats = json.loads(ctx.run.stats_path.read_text(encoding="utf-8"))
        accepted, rejected = stats.get("accepted", 0), stats.get("rejected", 0)
        if accepted + rejected >= 20:
            return max(0.01, accepted / (accepted + rejected)), f"observed in {ctx.run.path}"
    return DEFAULT_KEEP_RATE, "default"
