"""Generate records with the recipe's method and teacher until the target is kept.

Pipelined: up to enough batches to keep ``teacher.concurrency`` requests on the
wire run at once, while batches are filtered and committed strictly in plan
order, so the journal is the same whatever the timing (and a resumed run
continues exactly where the journal ends). The filter of batch k runs in a
worker thread while batch k+1's requests are in flight.
"""

from __future__ import annotations

import asyncio
import math
import time

from factory.context import RunContext
from factory.errors import StopRun, UserError
from factory.methods import BatchResult, MethodContext
from factory.stages.commit import build_filter_chain, commit, judge


class GenerateStage:
    name = "generate"

    def describe(self, ctx: RunContext) -> str:
        teacher = ctx.loaded.teacher.provenance()
        return (f"generate: {ctx.recipe.method.plugin} with teacher {teacher.label}, "
                f"target {ctx.recipe.method.target} kept, then filter")

    def requirements(self, loaded) -> list:
        return []

    def run(self, ctx: RunContext) -> None:
        asyncio.run(self._run(ctx))

    async def _run(self, ctx: RunContext) -> None:
        recipe = ctx.recipe
        target = recipe.method.target
        if ctx.run.state.accepted >= target:
            ctx.progress.log(f"generate: {ctx.run.state.accepted}/{target} kept already; nothing to do")
            return
        options = ctx.run_options
        stalled = int(ctx.extra.get("stalled_batches", 0))
        if ctx.extra.get("stalled_stop") and not (options and options.retry_stalled):
            raise UserError(f"{ctx.run.path}: this run stopped earlier because {stalled} batches in a row kept nothing "
                            "(the teacher repeats itself); rerun with --retry-stalled to pay for more batches anyway, "
                            "or change the teacher or its temperature and use --restart")
        ctx.extra.pop("stalled_stop", None)
        started = time.monotonic()  # loading a local teacher (a one-time GGUF conversion) counts too
        base_seconds = ctx.stage_seconds.get(self.name, 0.0)
        config = ctx.loaded.plugin("method")
        method = config.build()
        client = ctx.teacher_client(self.name)
        mctx = MethodContext(language=ctx.language, seeds=ctx.seeds, inputs=ctx.source_records,
                             recipe_seed=recipe.seed, batch_size=recipe.batch_size, teacher=client,
                             client_for=lambda spec: ctx.teacher_client(self.name, spec))
        method.prepare(mctx)
        # the filters load (a morpheme analyser takes seconds) while the first requests are on the wire;
        # answers that arrive before a failing build are cached, so a rerun does not pay for them again
        chain_ready = asyncio.ensure_future(asyncio.to_thread(build_filter_chain, ctx, config.cls.seeds_in_pool,
                                                              self.name))
        chain = None
        usage = ctx.usage_for(self.name)
        max_stalled = method.max_stalled_batches()
        total = method.batch_count(mctx)
        teacher = ctx.loaded.teacher.provenance()
        ctx.provenance.teacher = teacher
        ctx.provenance.teachers = {role: spec.provenance() for role, spec in config.cls.teachers_for(config.options).items()}
        ctx.provenance.prompt_sha256 = method.prompt_fingerprint(mctx)
        if method.lookahead is None:
            window = math.ceil(ctx.loaded.teacher.settings.concurrency / max(1, recipe.batch_size)) + 1
        else:
            window = method.lookahead + 1
        if method.lookahead == 0:
            mctx.accepted = ctx.run.accepted_records()
        ctx.progress.start("generate", target, ctx.run.state.accepted)
        pending: dict[int, asyncio.Task] = {}
        next_batch = ctx.run.state.batches_done
        try:
            while ctx.run.state.accepted < target:
                batch_no = ctx.run.state.batches_done
                if total is not None and batch_no >= total:
                    ctx.progress.log(f"generate: every input is done ({total} batches); "
                                     f"{ctx.run.state.accepted}/{target} kept")
                    break
                while len(pending) < window and (total is None or next_batch < total):
                    pending[next_batch] = asyncio.ensure_future(method.run_batch(mctx, next_batch))
                    next_batch += 1
                result: BatchResult = await pending.pop(batch_no)
                if chain is None:
                    chain = await chain_ready
                self._check_failures(ctx, result, batch_no)
                for record in result.records:
                    record.meta.update({"source": "generated", "method": recipe.method.plugin,
                                        "teacher": teacher.label, "language": recipe.language, "batch": batch_no})
                rejected = result.rejected + (result.failed if options and options.skip_failed else [])
                kept, all_rejected = await judge(chain, result.records, rejected)
                stalled = 0 if kept else stalled + 1
                ctx.extra["stalled_batches"] = stalled
                ctx.stage_seconds[self.name] = base_seconds + (time.monotonic() - started)
                commit(ctx, kept, all_rejected)
                if method.lookahead == 0:
                    mctx.accepted = list(mctx.accepted) + kept
                ctx.progress.update(
                    ctx.run.state.accepted, requests=usage.requests, cached=usage.cached_requests,
                    tokens=usage.prompt_tokens + usage.completion_tokens, cost=f"${usage.cost_usd:.4f}",
                    rejected=ctx.run.state.rejected,
                )
                if max_stalled is not None and stalled >= max_stalled:
                    ctx.extra["stalled_stop"] = True
                    ctx.run.save_counters(ctx.counters())
                    raise StopRun(
                        f"generate: {stalled} batches in a row kept nothing (the teacher repeats itself or fails); "
                        f"stopping with {ctx.run.state.accepted}/{target} kept. Try a stronger teacher or a higher "
                        "temperature; --retry-stalled pays for more batches anyway"
                    )
        finally:
            # batches started ahead finish (their answers are paid for and cached) but are not committed
            if pending:
                await asyncio.gather(*pending.values(), return_exceptions=True)
            ctx.stage_seconds[self.name] = base_seconds + (time.monotonic() - started)
            ctx.progress.finish()
            await client.aclose()
            if chain is None:  # stopped before the first batch was judged
                chain_ready.cancel()
                try:
                    chain = await chain_ready
                except BaseException:  # cancelled, or the build failed: nothing to close
                    chain = None
            if chain is not None:
                await chain.aclose()

    @staticmethod
    def _check_failures(ctx: RunContext, result: BatchResult, batch_no: int) -> None:
        """A batch with requests that failed after every retry is not committed: a rerun retries them."""
        options = ctx.run_options
        if not result.failed or (options and options.skip_failed):
            return
        count = len(result.failed)
        detail = result.failed[0][2]
        if not result.records and not result.rejected:
            what = f"all {count} requests of batch {batch_no} failed after retries ({detail}); check that the " \
                   "teacher is running and reachable"
        else:
            what = f"{count} request(s) of batch {batch_no} failed after retries ({detail})"
        raise StopRun(f"generate: {what}. Everything else is saved: rerun the same command to retry them "
                      "(--skip-failed commits the batch without them)")
