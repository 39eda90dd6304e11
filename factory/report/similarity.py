"""Each record's highest ROUGE-L F against the rest of the dataset and against the seed tasks.

Scores are rouge_score's own float formula on exact LCS lengths
(:func:`factory.similarity.f_from_lcs`, vectorized here with the same
operations in the same order), so they equal what the engine's filter and
:class:`~factory.similarity.RougeLIndex` report for the same pair.

"Against the rest" is the maximum over every *other* record, found exactly
in one pass in file order: record j is compared with the records before
it, (1) to raise the best score of every earlier record that j beats, which
gives each record its maximum over the records after it, and (2) to find
j's own maximum over the records before it. Overlap bounds prune both:
a pair whose bound is below the score it would have to beat needs no LCS,
and most pairs are pruned since scores quickly reach ~0.5 (about 9 LCS
per record on 52K instructions). It computes the overlaps once where two
greedy passes over ``RougeLIndex`` (forward, then backward) compute them
twice: 17 s of CPU against 26 s on 52K, same scores (docs/performance.md).
The seeds are few, so they are compared with every record in one batched
LCS call.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Sequence

import numpy as np

from factory.report.overlaps import PrefixOverlaps, encode

Tokens = Sequence[str]
#: Bounds and scores are floats; a bound this close below a score still counts (rounding is ~1e-16).
MARGIN = 1e-9
_FIRST_BATCH = 16
_SEED_ROWS = 4096  # queries per batched LCS call against the seeds (bounds memory)
#: below this many records one scan beats starting workers (5,000 Korean benchmark records: 0.7 s in one scan)
PARALLEL_MIN_RECORDS = 5000


@dataclass(frozen=True)
class Nearest:
    """Per record: the best score and the position of the record (or seed) reaching it (None: nothing shared)."""

    scores: list[float]
    partners: list[int | None]


def rouge_f(lcs: np.ndarray, len_target: np.ndarray | int, len_prediction: np.ndarray | int) -> np.ndarray:
    """:func:`factory.similarity.f_from_lcs` on arrays: the same float operations, so the same floats."""
    precision = lcs / len_prediction
    recall = lcs / len_target
    total = precision + recall
    f = np.zeros(total.shape, dtype=np.float64)
    np.divide(2 * precision * recall, total, out=f, where=total > 0)
    return f


def nearest_in_rest(token_lists: Sequence[Tokens], executor: Any = None) -> Nearest:
    """Max ROUGE-L F of each item against all other items; ties go to the earliest item.

    With an ``executor`` of several workers (and enough items to pay for starting them), the queries are cut
    into consecutive blocks, one per worker, scanned at once (:func:`_scan_block`) and merged
    (:func:`_merge_blocks`): the same scores and partners as one scan.
    """
    texts = encode(token_lists)
    n = len(texts)
    workers = executor.parallelism() if executor is not None and n >= PARALLEL_MIN_RECORDS else 1
    if workers <= 1:
        best, partner = _scan_block(texts, 0, n)
    else:
        bounds = block_bounds(n, workers)
        calls = [(texts[:stop], start, stop) for start, stop in zip(bounds, bounds[1:])]
        best, partner = _merge_blocks(n, executor.map_calls(_scan_block, calls))
    return Nearest(best.tolist(), [int(p) if p >= 0 else None for p in partner])


def block_bounds(n: int, parts: int) -> list[int]:
    """Query blocks of about equal work: record j costs about j (its overlaps with the j before it), so block
    k of ``parts`` ends at n * sqrt(k / parts)."""
    bounds = [0] + [round(n * math.sqrt(k / parts)) for k in range(1, parts)] + [n]
    return sorted(set(bounds))


def _merge_blocks(n: int, blocks: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Blocks' results in block order: a later block's partners all come after an earlier one's, so a score
    only replaces a strictly lower one and ties keep the earliest partner, as in one scan."""
    best = np.zeros(n, dtype=np.float64)
    partner = np.full(n, -1, dtype=np.int64)
    for scores, partners in blocks:
        size = len(scores)
        won = scores > best[:size]
        best[:size][won] = scores[won]
        partner[:size][won] = partners[won]
    return best, partner


def _scan_block(texts: Sequence[str], start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Records ``start..stop-1`` against every record before them (``texts`` holds records ``0..stop-1``).

    Returns, for each record before ``stop``, its best score and partner among the pairs this block scored:
    for records of the block, their maximum over every earlier record and over the later ones in the block;
    for records before the block, their maximum over the block's records. One scan is the block 0..n.
    """
    index = PrefixOverlaps(texts, encoded=True)
    index.skip_to(start)
    best = np.zeros(stop, dtype=np.float64)
    partner = np.full(stop, -1, dtype=np.int64)
    # Half of the score an overlap bound must reach to matter, minus the margin; above 0 while best
    # is 0, so records sharing no token (bound 0) are never scored.
    need = np.full(stop, MARGIN, dtype=np.float64)
    lengths = index.lengths
    for j in range(start, stop):
        overlap = index.before(j)
        if overlap is None:
            continue
        la = int(lengths[j])
        lb = lengths[:j]
        half = overlap / (lb + la)  # >= half the F of each pair: F = 2*LCS/(la+lb) <= 2*overlap/(la+lb)
        # (1) earlier records whose best this record may beat, and the one sharing the most tokens
        first = int(np.argmax(overlap))
        if not overlap[first]:  # dense rows can add up to nothing before j
            continue
        raise_ = np.flatnonzero(half >= need[:j])
        scored = raise_ if half[first] >= need[first] else np.append(raise_, first)
        scores = rouge_f(index.lcs(j, scored), la, lb[scored])
        beaten = scores > best[scored]
        if beaten.any():
            won = scored[beaten]
            best[won] = scores[beaten]
            partner[won] = j
            need[won] = (scores[beaten] - MARGIN) / 2
        # (2) this record's best among the earlier ones: what (1) scored, then the rest by falling bound
        done_entries, done_scores = [scored], [scores]
        own = float(scores.max())
        todo = half >= (own - MARGIN) / 2
        todo[scored] = False
        rest = np.flatnonzero(todo)
        rest = rest[np.argsort(-half[rest], kind="stable")]
        begin, batch = 0, _FIRST_BATCH
        while begin < len(rest) and 2 * half[rest[begin]] + MARGIN >= own:
            chunk = rest[begin : begin + batch]
            chunk_scores = rouge_f(index.lcs(j, chunk), la, lb[chunk])
            done_entries.append(chunk)
            done_scores.append(chunk_scores)
            own = max(own, float(chunk_scores.max()))
            begin += len(chunk)
            batch *= 2
        if own > best[j]:
            entries, all_scores = np.concatenate(done_entries), np.concatenate(done_scores)
            best[j] = own
            partner[j] = int(entries[all_scores == own].min())
            need[j] = (own - MARGIN) / 2
    return best, partner


def nearest_in_pool(token_lists: Sequence[Tokens], pool: Sequence[Tokens]) -> Nearest:
    """Max ROUGE-L F of each item against a small fixed pool (the seed tasks); ties go to the earliest entry."""
    from rapidfuzz import process
    from rapidfuzz.distance import LCSseq

    n = len(token_lists)
    if not n or not pool:
        return Nearest([0.0] * n, [None] * n)
    vocab: dict[str, str] = {}
    pool_texts = encode(pool, vocab)
    texts = encode(token_lists, vocab)
    # An empty sequence has LCS 0 with everything: length 1 keeps its F at 0 without dividing 0 by 0.
    pool_lengths = np.array([max(1, len(t)) for t in pool_texts], dtype=np.int64)
    scores: list[float] = []
    partners: list[int | None] = []
    for start in range(0, n, _SEED_ROWS):
        rows = texts[start : start + _SEED_ROWS]
        lcs = process.cdist(rows, pool_texts, scorer=LCSseq.similarity, dtype=np.int32, workers=1)
        row_lengths = np.array([max(1, len(t)) for t in rows], dtype=np.int64)[:, None]
        f = rouge_f(lcs, row_lengths, pool_lengths[None, :])
        winners = f.argmax(axis=1)  # first maximum: the earliest seed
        top = f[np.arange(len(rows)), winners]
        scores += top.tolist()
        partners += [int(w) if s > 0 else None for w, s in zip(winners, top)]
    return Nearest(scores, partners)


def top_pairs(nearest: Nearest, count: int) -> list[tuple[float, int, int]]:
    """The ``count`` most similar distinct pairs ``(score, i, j)`` with ``i < j``, highest first."""
    pairs = {}
    for i, (score, j) in enumerate(zip(nearest.scores, nearest.partners)):
        if j is not None:
            pairs[(min(i, j), max(i, j))] = score
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [(score, i, j) for (i, j), score in ranked[:count]]
