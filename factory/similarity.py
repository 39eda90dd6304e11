"""Exact ROUGE-L near-duplicate search, fast enough for a 52K pool on one core.

Alpaca and self-instruct drop a new instruction when its ROUGE-L F-measure
against any instruction already in the pool exceeds 0.7, scoring every pair
with ``rouge_score`` (a pure-Python LCS table). :class:`RougeLIndex` gives the
same scores, float for float, while computing an LCS for only a handful of
entries per query:

* every token is mapped once to an integer id (one vocabulary for the index),
  and each entry is stored as a string of ``chr(id)`` so rapidfuzz's
  bit-parallel LCS runs on it directly;
* an inverted index keyed by ``(token id, occurrence number)`` gives the
  multiset overlap ``o`` of the query with every entry in one ``bincount``
  (keys most entries share, like "the", are kept as dense 0/1 rows instead,
  which are cheaper to add up). Since ``LCS <= o <= min(la, lb)``,
  ``F = 2*LCS/(la+lb) <= 2*o/(la+lb)``: this bound is never looser than the
  length bound ``2*min(la, lb)/(la+lb)``, so it prunes all the length bound would;
* the entry with the largest overlap seeds the best score; an integer test on
  the overlaps then discards every entry that cannot reach it, and exact LCS
  lengths are computed for the rest in descending bound order, in growing
  batches, stopping as soon as the next bound falls below the best found.

Bounds are compared as single correctly rounded divisions of small integers,
which order exactly like the rationals they round; the score that is
reported and compared with a threshold is always rouge_score's own float
formula applied to the true LCS length (:func:`f_from_lcs`), which matters:
LCS 7 of 9 and 11 tokens gives 0.7000000000000001 (dropped at 0.7) while
LCS 7 of 10 and 10 tokens gives 0.7 (kept). Adding an entry appends to the
inverted index; nothing is ever rebuilt.
"""

from __future__ import annotations

from array import array
from typing import Any, Iterable, Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

__all__ = ["RougeLIndex", "f_from_lcs", "greedy_dedup", "lcs_length", "rouge_l_f"]

#: Token ids are stored as code points; the surrogate block is skipped.
_SURROGATES = 0xD800
_SURROGATE_SPAN = 0x800
MAX_VOCABULARY = 0x10FFFF - _SURROGATE_SPAN
_UNKNOWN = "\0"  # id 0: a query token no entry has
#: Safety margin between a float bound and a float threshold (float error is ~1e-16).
_MARGIN = 1e-9
#: First batch of exact LCS computations; later batches double.
_FIRST_BATCH = 16
#: A posting list turns into a dense row once it holds max(_DENSE_MIN, n/_DENSE_SHARE) entries.
_DENSE_MIN = 256
_DENSE_SHARE = 16
_DENSE_MAX_ROWS = 1024


def f_from_lcs(lcs: int, len_target: int, len_prediction: int) -> float:
    """rouge_score's ROUGE-L F-measure from an LCS length, with its exact float operations.

    The same operations in the same order as ``rouge_scorer._score_lcs`` and
    ``scoring.fmeasure``, so the result is bit-identical (the formula is also
    symmetric bit for bit: doubling is exact and ``*``/``+`` commute).
    """
    if not len_target or not len_prediction:
        return 0.0
    precision = lcs / len_prediction
    recall = lcs / len_target
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def _char(token_id: int) -> str:
    return chr(token_id if token_id < _SURROGATES else token_id + _SURROGATE_SPAN)


def lcs_length(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common subsequence of two token sequences (exact)."""
    ids: dict[Any, str] = {}
    first = "".join([ids.setdefault(tok, _char(len(ids) + 1)) for tok in a])
    second = "".join([ids.setdefault(tok, _char(len(ids) + 1)) for tok in b])
    return int(LCSseq.similarity(first, second))


def rouge_l_f(target: Sequence[Any], prediction: Sequence[Any]) -> float:
    """ROUGE-L F-measure of two token sequences, bit-identical to ``rouge_scorer._score_lcs``."""
    if not target or not prediction:
        return 0.0
    return f_from_lcs(lcs_length(target, prediction), len(target), len(prediction))


class RougeLIndex:
    """A growing pool of token sequences answering "how close is the nearest entry?".

    ``max_score`` returns the maximum ROUGE-L F over all entries (equal to a
    brute force over rouge_score, float for float) and the key of the entry
    reaching it; among entries with the same score the earliest added wins.
    """

    def __init__(self, *, dense_min: int = _DENSE_MIN, dense_share: int = _DENSE_SHARE) -> None:
        """``dense_min``/``dense_share``: a key's posting list becomes a dense row once it
        holds ``max(dense_min, len(self) // dense_share)`` entries (a speed knob only)."""
        self._dense_min = dense_min
        self._dense_share = dense_share
        # token -> its id as a one-character string (the id is the code point)
        self._vocab: dict[str, str] = {}
        self._texts: list[str] = []
        self._keys: list[Any] = []
        self._lengths = np.zeros(1024, dtype=np.int64)
        # (token id, occurrence number) -> entry numbers holding that occurrence
        self._postings: dict[tuple[str, int], array] = {}
        # Keys held by a large share of entries ("the", "a", ...) move to a dense
        # 0/1 row per key: adding a row costs n bytes, a bincount over its
        # posting list would cost ~15x more. Rows are never moved back.
        self._dense_rows: dict[tuple[str, int], int] = {}
        self._dense = np.zeros((16, 1024), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._texts)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def key(self, entry: int) -> Any:
        return self._keys[entry]

    # -- building ---------------------------------------------------------
    def add(self, tokens: Sequence[str], key: Any = None) -> int:
        """Add one entry; returns its entry number (0, 1, ...). Costs O(len(tokens))."""
        vocab = self._vocab
        ids = []
        for tok in tokens:
            token_id = vocab.get(tok)
            if token_id is None:
                if len(vocab) >= MAX_VOCABULARY:
                    raise OverflowError(f"RougeLIndex holds at most {MAX_VOCABULARY} distinct tokens")
                token_id = vocab[tok] = _char(len(vocab) + 1)  # id 0 marks tokens unknown to the index
            ids.append(token_id)
        entry = len(self._texts)
        if entry == len(self._lengths):  # amortized doubling, like a list
            self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
            self._dense = np.concatenate([self._dense, np.zeros_like(self._dense)], axis=1)
        self._lengths[entry] = len(ids)
        self._texts.append("".join(ids))
        self._keys.append(key)
        postings, dense_rows = self._postings, self._dense_rows
        promote_at = max(self._dense_min, entry // self._dense_share)
        seen: dict[str, int] = {}
        for token_id in ids:
            occurrence = seen.get(token_id, 0) + 1
            seen[token_id] = occurrence
            posting_key = (token_id, occurrence)
            row = dense_rows.get(posting_key)
            if row is not None:
                self._dense[row, entry] = 1
                continue
            posting = postings.get(posting_key)
            if posting is None:
                posting = postings[posting_key] = array("i")
            posting.append(entry)
            if len(posting) >= promote_at and len(dense_rows) < _DENSE_MAX_ROWS:
                self._promote(posting_key)
        return entry

    def _promote(self, posting_key: tuple[str, int]) -> None:
        """Move a frequent key's posting list to a dense row."""
        row = len(self._dense_rows)
        if row == len(self._dense):
            self._dense = np.concatenate([self._dense, np.zeros_like(self._dense)], axis=0)
        posting = self._postings.pop(posting_key)
        self._dense[row, np.frombuffer(posting, dtype=np.int32)] = 1
        self._dense_rows[posting_key] = row

    # -- queries ----------------------------------------------------------
    def max_score(self, tokens: Sequence[str]) -> tuple[float, Any | None]:
        """Maximum ROUGE-L F of ``tokens`` against every entry, and that entry's key.

        ``(0.0, None)`` when the pool is empty or no entry shares a token.
        """
        score, entry = self._search(tokens, None)
        return score, (None if entry is None else self._keys[entry])

    def exceeds(self, tokens: Sequence[str], threshold: float) -> tuple[bool, float, Any | None]:
        """Whether the maximum score is above ``threshold``; the filter's question.

        Same decision as ``max_score(tokens)[0] > threshold``. When it is True
        the search stops at the first score above the threshold, so the score
        returned is one above the threshold (not necessarily the maximum); when
        False the score is the exact maximum.
        """
        if not threshold >= 0:  # negative (or NaN): no bound can prune
            score, key = self.max_score(tokens)
            return score > threshold, score, key
        score, entry = self._search(tokens, threshold)
        return score > threshold, score, (None if entry is None else self._keys[entry])

    def _encode_query(self, tokens: Sequence[str]) -> list[str]:
        vocab = self._vocab
        return [vocab.get(tok, _UNKNOWN) for tok in tokens]

    def _overlaps(self, ids: list[str]) -> np.ndarray | None:
        """Multiset overlap of the query with every entry (None when nothing is shared).

        Counted in the smallest unsigned type that holds ``len(ids)``, since
        the overlap never exceeds it: the passes over all n entries are the
        cost that grows with the pool, and bytes are 8x cheaper than int64.
        """
        postings, dense_rows = self._postings, self._dense_rows
        n = len(self._texts)
        seen: dict[str, int] = {}
        hits = []
        rows = []
        for token_id in ids:
            if token_id != _UNKNOWN:
                occurrence = seen.get(token_id, 0) + 1
                seen[token_id] = occurrence
                posting = postings.get((token_id, occurrence))
                if posting is not None:
                    hits.append(np.frombuffer(posting, dtype=np.int32))
                else:
                    row = dense_rows.get((token_id, occurrence))
                    if row is not None:
                        rows.append(row)
        if not hits and not rows:
            return None
        dtype = np.uint8 if len(ids) <= 0xFF else np.uint16 if len(ids) <= 0xFFFF else np.int64
        if rows:
            overlap = self._dense[rows, :n].sum(axis=0, dtype=dtype)
        if hits:
            # The views above pin the arrays' buffers only until this statement ends.
            counts = np.bincount(np.concatenate(hits) if len(hits) > 1 else hits[0], minlength=n).astype(dtype)
            if rows:
                overlap += counts
            else:
                overlap = counts
        return overlap

    def _search(self, tokens: Sequence[str], threshold: float | None) -> tuple[float, int | None]:
        """Best (score, entry); with a threshold, stops at the first score above it."""
        ids = self._encode_query(tokens)
        la = len(ids)
        n = len(self._texts)
        if not la or not n:
            return 0.0, None
        overlap = self._overlaps(ids)
        if overlap is None:
            return 0.0, None
        lengths = self._lengths[:n]
        query = "".join(ids)
        texts = self._texts

        # Seed the best with the entry of largest overlap.
        first = int(np.argmax(overlap))
        first_len = int(lengths[first])
        first_lcs = int(LCSseq.similarity(query, texts[first]))
        if threshold is not None:
            score = f_from_lcs(first_lcs, la, first_len)
            if score > threshold:
                return score, first
        # An entry can reach the seed only if o/(la+lb) >= lcs/den, and as lb >= o this
        # needs o*(den-lcs) >= lcs*la: an integer test on the overlaps alone.
        den = la + first_len
        min_overlap = -(-first_lcs * la // (den - first_lcs))
        rest = np.flatnonzero(overlap >= min_overlap)
        # bound = o/(la+lb), half the F bound. One correctly rounded division of
        # integers below 2**26 orders exactly like the rational it rounds
        # (distinct ones differ by far more than an ulp; equal ones round alike).
        bound = overlap[rest] / (lengths[rest] + la)
        best = first_lcs / den  # half of the real F, rounded like the bounds
        keep = (bound >= best) & (rest != first)
        rest, bound = rest[keep], bound[keep]
        order = np.argsort(-bound, kind="stable")
        rest = rest[order]
        descending = -bound[order]  # ascending, for searchsorted

        done_entries = [np.array([first])]
        done_lcs = [np.array([first_lcs])]
        start, batch = 0, _FIRST_BATCH
        while start < len(rest) and -descending[start] >= best:
            stop = int(np.searchsorted(descending, -best, side="right"))  # entries with bound >= best
            chunk = rest[start : min(stop, start + batch)]
            lcs = process.cdist([query], [texts[i] for i in chunk], scorer=LCSseq.similarity, dtype=np.int64, workers=1)[0]
            done_entries.append(chunk)
            done_lcs.append(lcs)
            halves = lcs / (lengths[chunk] + la)
            chunk_best = float(halves.max())
            if chunk_best > best:
                best = chunk_best
            if threshold is not None:
                # Exact scores of the entries that could pass; return the first one above.
                for i in np.flatnonzero(2 * halves + _MARGIN > threshold):
                    score = f_from_lcs(int(lcs[i]), la, int(lengths[chunk[i]]))
                    if score > threshold:
                        return score, int(chunk[i])
            start += len(chunk)
            batch *= 2
        entries = np.concatenate(done_entries)
        lcs_all = np.concatenate(done_lcs)
        tied = np.flatnonzero(lcs_all / (lengths[entries] + la) == best)
        # Equal rationals may still differ by an ulp through rouge_score's formula: take the largest float.
        best_score, best_entry = -1.0, -1
        for i in tied:
            entry = int(entries[i])
            score = f_from_lcs(int(lcs_all[i]), la, int(lengths[entry]))
            if score > best_score or (score == best_score and entry < best_entry):
                best_score, best_entry = score, entry
        return best_score, best_entry


def greedy_dedup(
    token_lists: Iterable[Sequence[str]],
    threshold: float = 0.7,
    against: Iterable[Sequence[str]] = (),
    *,
    keys: Sequence[Any] | None = None,
    against_keys: Sequence[Any] | None = None,
    index: RougeLIndex | None = None,
) -> list[tuple[bool, float, Any | None]]:
    """Alpaca's greedy filter: keep an item when its max ROUGE-L F is <= ``threshold``.

    Each item is compared with every ``against`` sequence and every item kept
    before it; kept items join the pool. Returns ``(kept, max score, key of the
    most similar entry)`` per item, in order. Keys default to the item's
    position and to ``("against", j)`` for the j-th ``against`` sequence. Pass
    ``index`` to keep using the pool afterwards.
    """
    pool = RougeLIndex() if index is None else index
    for j, tokens in enumerate(against):
        pool.add(tokens, ("against", j) if against_keys is None else against_keys[j])
    results: list[tuple[bool, float, Any | None]] = []
    for i, tokens in enumerate(token_lists):
        score, most_similar = pool.max_score(tokens)
        kept = not score > threshold
        if kept:
            pool.add(tokens, i if keys is None else keys[i])
        results.append((kept, score, most_similar))
    return results
