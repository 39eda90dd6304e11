"""Shared by streaming stages: filter a batch of candidates and commit it to the journal."""

from __future__ import annotations

from factory.context import RunContext
from factory.filters import FilterChain, Rejection
from factory.records import Record


def build_filter_chain(ctx: RunContext, with_seeds: bool) -> FilterChain:
    """A filter chain whose near-duplicate pool holds the seeds (optionally) and the journal so far."""
    chain = FilterChain(ctx.recipe.filters, ctx.language)
    if with_seeds and ctx.recipe.filters.similarity.against_seeds:
        chain.add_to_pool(ctx.seeds)
    chain.add_to_pool(ctx.run.accepted_records())
    return chain


def filter_and_commit(ctx: RunContext, chain: FilterChain, candidates: list[Record], rejected: list[Rejection]) -> int:
    """Judge ``candidates`` greedily, then append kept and rejected records durably; returns kept count."""
    kept, filtered_out = chain.apply(candidates)
    all_rejected = rejected + filtered_out
    ctx.count_rejections(all_rejected)
    ctx.run.commit_batch(kept, all_rejected, ctx.counters())
    return len(kept)
