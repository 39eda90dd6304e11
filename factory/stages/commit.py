"""Shared by streaming stages: filter a batch of candidates and commit it to the journal."""

from __future__ import annotations

from factory.context import RunContext
from factory.filtering import FilterChain, FilterContext, Rejection
from factory.records import Record


def build_filter_chain(ctx: RunContext, with_seeds: bool, stage: str = "filter") -> FilterChain:
    """The recipe's filters; stateful ones (near-duplicates) start from the seeds (optionally) and the journal."""
    context = FilterContext(language=ctx.language, seeds=list(ctx.seeds),
                            client_for=lambda spec: ctx.teacher_client(stage, spec), inputs=list(ctx.source_records),
                            executor=ctx.executor)
    chain = FilterChain.build(ctx.loaded.plugins.get("filters", []), context)
    if with_seeds:
        chain.add_to_pool(ctx.seeds, seeds=True)
    chain.add_to_pool(ctx.run.accepted_records())
    ctx.provenance.filters = [{"plugin": item.name, **item.plugin.describe()} for item in chain.filters]
    return chain


async def judge(chain: FilterChain, candidates: list[Record], rejected: list[Rejection]) -> tuple[list[Record], list[Rejection]]:
    """Judge ``candidates`` through the chain; returns the kept records and every rejection of the batch."""
    kept, filtered_out = await chain.apply(candidates)
    return kept, rejected + filtered_out


def commit(ctx: RunContext, kept: list[Record], rejected: list[Rejection]) -> None:
    """Append one judged batch durably, with the counters that must survive a resume."""
    ctx.count_rejections(rejected)
    ctx.run.commit_batch(kept, rejected, ctx.counters())


async def filter_and_commit(ctx: RunContext, chain: FilterChain, candidates: list[Record], rejected: list[Rejection]) -> int:
    """Judge a batch and commit it; returns the kept count."""
    kept, all_rejected = await judge(chain, candidates, rejected)
    commit(ctx, kept, all_rejected)
    return len(kept)
