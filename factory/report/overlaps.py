"""Token overlaps of each record with the records before it, for a dataset known in advance.

The report scores a finished dataset, so unlike the engine's growing
:class:`factory.similarity.RougeLIndex` it can index every record up front.
Each record becomes a multiset of keys ``(token, occurrence number)``; the
overlap of two records (the number of keys they share) bounds their LCS
from above, so ROUGE-L F = 2*LCS/(la+lb) <= 2*overlap/(la+lb) and most
pairs never need an LCS. Posting lists are sorted by record, so "records
before j" is a prefix; keys that most records hold ("the", "a") are dense
0/1 rows instead, whose column sums are far cheaper than counting long
posting lists.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

#: A key held by at least max(DENSE_MIN, n / DENSE_SHARE) records becomes a dense row.
DENSE_MIN = 256
DENSE_SHARE = 16
_SURROGATES, _SURROGATE_SPAN = 0xD800, 0x800


def _char(token_id: int) -> str:
    """Token id as one code point (surrogates skipped), so rapidfuzz compares token strings."""
    return chr(token_id if token_id < _SURROGATES else token_id + _SURROGATE_SPAN)


def encode(token_lists: Sequence[Sequence[str]], vocab: dict[str, str] | None = None) -> list[str]:
    """Each token list as a string with one character per token (ids shared through ``vocab``)."""
    vocab = {} if vocab is None else vocab
    return ["".join([vocab.get(t) or vocab.setdefault(t, _char(len(vocab) + 1)) for t in tokens])
            for tokens in token_lists]


class PrefixOverlaps:
    """Overlap of record j with each of records 0..j-1, and exact LCS lengths on demand."""

    def __init__(self, token_lists: Sequence[Sequence[str]] | Sequence[str], encoded: bool = False):
        """``encoded``: ``token_lists`` are already :func:`encode`'s strings (as a worker receives them)."""
        self.texts = list(token_lists) if encoded else encode(token_lists)
        n = len(self.texts)
        self.lengths = np.fromiter((len(t) for t in self.texts), dtype=np.int64, count=n)
        key_ids: dict[tuple[str, int], int] = {}
        self._keys: list[list[int]] = []
        postings: list[list[int]] = []
        for entry, text in enumerate(self.texts):
            seen: dict[str, int] = {}
            keys = []
            for ch in text:
                seen[ch] = occurrence = seen.get(ch, 0) + 1
                key = key_ids.setdefault((ch, occurrence), len(key_ids))
                if key == len(postings):
                    postings.append([])
                postings[key].append(entry)
                keys.append(key)
            self._keys.append(keys)
        dense_at = max(DENSE_MIN, n // DENSE_SHARE)
        dense_keys = [k for k, p in enumerate(postings) if len(p) >= dense_at]
        self._dense_row = {key: row for row, key in enumerate(dense_keys)}
        self._dense = np.zeros((len(dense_keys), n), dtype=np.uint8)
        for row, key in enumerate(dense_keys):
            self._dense[row, postings[key]] = 1
        self._postings = {k: np.asarray(p, dtype=np.int32) for k, p in enumerate(postings) if k not in self._dense_row}
        # Records are queried in order, so a key's records before j are the first _seen[key] of its posting.
        self._seen = [0] * len(postings)
        self._next = 0

    def __len__(self) -> int:
        return len(self.texts)

    def skip_to(self, j: int) -> None:
        """Start the queries at record ``j`` (a block of a parallel scan), as if ``0..j-1`` had been asked."""
        if j < self._next:
            raise ValueError(f"records are queried in order: already at {self._next}, cannot go back to {j}")
        seen, dense = self._seen, self._dense_row
        for entry in range(self._next, j):
            for key in self._keys[entry]:
                if key not in dense:
                    seen[key] += 1
        self._next = j

    def before(self, j: int) -> np.ndarray | None:
        """Overlap of record ``j`` with records ``0..j-1`` (length-j array); None when none is shared.

        Records must be asked for in order, 0, 1, 2... (each exactly once).
        """
        if j != self._next:
            raise ValueError(f"records are queried in order: expected {self._next}, got {j}")
        self._next += 1
        seen = self._seen
        rows, hits = [], []
        for key in self._keys[j]:  # distinct: the occurrence number tells repeated tokens apart
            row = self._dense_row.get(key)
            if row is not None:
                rows.append(row)
                continue
            count = seen[key]
            if count:
                hits.append(self._postings[key][:count])
            seen[key] = count + 1
        if j == 0 or (not rows and not hits):
            return None
        overlap = None
        if hits:
            overlap = np.bincount(np.concatenate(hits) if len(hits) > 1 else hits[0], minlength=j)
        if rows:
            dense = self._dense[rows, :j].sum(axis=0, dtype=np.uint16)
            overlap = dense if overlap is None else overlap + dense
        return overlap

    def lcs(self, j: int, entries: np.ndarray) -> np.ndarray:
        """Exact LCS lengths (in tokens) of record ``j`` with each of ``entries``."""
        if not len(entries):
            return np.zeros(0, dtype=np.int64)
        texts = self.texts
        return process.cdist([texts[j]], [texts[i] for i in entries], scorer=LCSseq.similarity, dtype=np.int64,
                             workers=1)[0]
