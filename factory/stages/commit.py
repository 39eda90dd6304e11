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


def judge(chain: FilterChain, candidates: list[Record], rejected: list[Rejection]) -> tuple[list[Record], list[Rejection]]:
    """Judge ``candidates`` greedily; returns the kept records and every rejection of the batch."""
    kept, filtered_out = chain.apply(candidates)
    return kept, rejected + filtered_out


def commit(ctx: RunContext, kept: list[Record], rejected: list[Rejection]) -> None:
    """Append one judged batch durably, with the counters that must survive a resume."""
    ctx.count_rejections(rejected)
    ctx.run.commit_batch(kept, rejected, ctx.counters())


def filter_and_commit(ctx: RunContext, chain: FilterChain, candidates: list[Record], rejected: list[Rejection]) -> int:
    """Judge a batch and commit it; returns the kept count."""
    kept, all_rejected = judge(chain, candidates, rejected)
    commit(ctx, kept, all_rejected)
    return len(kept)
