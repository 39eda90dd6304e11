"""Generate records with the recipe's method and teacher until the target is kept."""

from __future__ import annotations

import asyncio
import time

from factory.context import RunContext, build_teacher_client
from factory.errors import StopRun
from factory.plugins import get_plugin
from factory.stages.commit import build_filter_chain, commit, judge


#: batches in a row that keep nothing before the stage gives up, for methods that do not say
DEFAULT_MAX_STALLED = 25


class GenerateStage:
    name = "generate"

    def describe(self, ctx: RunContext) -> str:
        t = ctx.recipe.teacher
        model = ctx.loaded.plugin_options.get("teacher", {}).get("model") or ctx.loaded.plugin_options.get("teacher", {}).get("bundled")
        return f"generate: {ctx.recipe.method.plugin} with teacher {t.plugin}:{model}, target {ctx.recipe.method.target} kept, then filter"

    def method(self, ctx: RunContext):
        return get_plugin("method", ctx.recipe.method.plugin)(**ctx.loaded.plugin_options.get("method", {}))

    def run(self, ctx: RunContext) -> None:
        asyncio.run(self._run(ctx))

    async def _run(self, ctx: RunContext) -> None:
        from factory.teaching import TeacherRequestFailed

        recipe = ctx.recipe
        if ctx.run.state.accepted >= recipe.method.target:
            ctx.progress.log(f"generate: {ctx.run.state.accepted}/{recipe.method.target} kept already; nothing to do")
            return
        started = time.monotonic()  # loading a local teacher (a one-time GGUF conversion) counts too
        base_seconds = ctx.stage_seconds.get(self.name, 0.0)
        method = self.method(ctx)
        language = ctx.language
        chain = build_filter_chain(ctx, with_seeds=True)
        client = build_teacher_client(ctx, self.name)
        usage = ctx.usage_for(self.name)
        target = recipe.method.target
        stalled = int(ctx.extra.get("stalled_batches", 0))
        options = getattr(method, "options", None)
        max_stalled = getattr(options, "max_stalled_batches", DEFAULT_MAX_STALLED)
        # tasks in a response are numbered after the demonstrations the prompt showed
        first_number = min(getattr(options, "num_prompt_instructions", 0), len(ctx.seeds)) + 1
        ctx.provenance["teacher"] = {"plugin": recipe.teacher.plugin, "identity": client.teacher.identity}
        ctx.provenance["prompt_sha256"] = method_prompt_hash(method, ctx)
        ctx.progress.start("generate", target, ctx.run.state.accepted)
        try:
            while ctx.run.state.accepted < target:
                batch_no = ctx.run.state.batches_done
                requests = method.requests_for_batch(batch_no, recipe.batch_size, ctx.seeds, language, recipe.seed)
                results = await client.complete_many(requests)
                failures = [r for r in results if isinstance(r, TeacherRequestFailed)]
                if failures and len(failures) == len(results):
                    # nothing came back at all: a down server or a wrong base_url, not a flaky request
                    raise StopRun(f"generate: all {len(results)} requests of batch {batch_no} failed after retries "
                                  f"({failures[0]}); check that the teacher is running and reachable, then rerun to resume")
                candidates, rejected = [], []
                for index, result in enumerate(results):
                    prefix = f"gen-{batch_no:05d}-{index:02d}"
                    if isinstance(result, TeacherRequestFailed):
                        from factory.records import Record

                        rejected.append((Record.from_alpaca("", id=prefix), "teacher_failed", str(result)[:300]))
                        continue
                    parsed, bad = method.parse(result, language.prompt, first_number, prefix)
                    candidates.extend(parsed)
                    rejected.extend(bad)
                for record in candidates:
                    record.meta.update({"source": "generated", "method": recipe.method.plugin,
                                        "teacher": client.teacher.identity, "language": recipe.language, "batch": batch_no})
                ctx.stage_seconds[self.name] = base_seconds + (time.monotonic() - started)
                kept, all_rejected = judge(chain, candidates, rejected)
                stalled = 0 if kept else stalled + 1
                ctx.extra["stalled_batches"] = stalled
                commit(ctx, kept, all_rejected)
                ctx.progress.update(
                    ctx.run.state.accepted, requests=usage.requests, cached=usage.cached_requests,
                    tokens=usage.prompt_tokens + usage.completion_tokens, cost=f"${usage.cost_usd:.4f}",
                    rejected=ctx.run.state.rejected,
                )
                if stalled >= max_stalled:
                    raise StopRun(
                        f"generate: {stalled} batches in a row kept nothing (the teacher repeats itself or fails); "
                        f"stopping with {ctx.run.state.accepted}/{target} kept. Try a stronger teacher or a higher temperature"
                    )
        finally:
            ctx.stage_seconds[self.name] = base_seconds + (time.monotonic() - started)
            ctx.progress.finish()
            await client.aclose()


def method_prompt_hash(method, ctx: RunContext) -> str:
    """Hash of the prompt wording (header and labels) so a dataset card can say which prompt made it."""
    import hashlib

    wording = ctx.language.prompt
    header = method.options.header if getattr(method.options, "header", None) is not None else wording.header
    text = "\x1f".join([header, wording.instruction_label, wording.input_label, wording.output_label, wording.noinput])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
