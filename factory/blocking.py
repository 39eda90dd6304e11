"""Opt-in blocking for very large dedups: MinHash-LSH proposes candidates, ROUGE-L decides.

The exact pool (:mod:`factory.similarity`) compares every query with every kept
entry that shares a token; past ~10M records even that is too much. Blocking
compares a query only with the kept entries whose MinHash signature (of the
language's token set, via datasketch) collides with its own in some LSH band,
then scores those candidates with the exact ROUGE-L F. Every drop is backed by
a real ROUGE-L above the threshold against a kept record; what blocking loses
is recall: a near-duplicate whose token sets are too different to collide is
kept (and, the filter being greedy, may then cause a later drop the exact
filter would not make). ``factory dedup --blocking minhash`` measures both
against the exact filter on a sample of the input and prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from factory.similarity import rouge_l_f

__all__ = ["BlockingRecall", "MinHashRougePool", "measure_recall"]

#: Jaccard similarity of token sets at which LSH bands start to collide (ROUGE-L 0.7 usually lies above it)
DEFAULT_JACCARD = 0.4
DEFAULT_PERMUTATIONS = 64


class MinHashRougePool:
    """A greedy pool like :class:`factory.rouge_pool.LocalRougePool`, with MinHash-LSH candidates."""

    def __init__(self, jaccard: float = DEFAULT_JACCARD, num_perm: int = DEFAULT_PERMUTATIONS, seed: int = 1) -> None:
        from datasketch import MinHash, MinHashLSH

        self._minhash = MinHash
        self._num_perm, self._seed = num_perm, seed
        self._lsh = MinHashLSH(threshold=jaccard, num_perm=num_perm)
        self._tokens: list[list[str]] = []
        self._keys: list[Any] = []
        self.candidates_scored = 0

    def __len__(self) -> int:
        return len(self._keys)

    def _signature(self, tokens: Sequence[str]) -> Any:
        signature = self._minhash(num_perm=self._num_perm, seed=self._seed)
        signature.update_batch([t.encode("utf-8") for t in set(tokens)])
        return signature

    def _add(self, tokens: Sequence[str], key: Any, signature: Any = None) -> None:
        seq = len(self._keys)
        self._keys.append(key)
        self._tokens.append(list(tokens))
        if tokens:
            self._lsh.insert(seq, signature if signature is not None else self._signature(tokens))

    def add_many(self, token_lists: Sequence[Sequence[str]], keys: Sequence[Any]) -> None:
        for tokens, key in zip(token_lists, keys):
            self._add(tokens, key)

    def greedy(self, token_lists: Sequence[Sequence[str]], threshold: float,
               keys: Sequence[Any]) -> list[tuple[bool, float, Any | None]]:
        results = []
        for tokens, key in zip(token_lists, keys):
            best, best_seq, signature = 0.0, None, None
            if tokens and self._keys:
                signature = self._signature(tokens)
                for seq in sorted(self._lsh.query(signature)):  # ascending: the earliest wins a tie
                    self.candidates_scored += 1
                    score = rouge_l_f(tokens, self._tokens[seq])
                    if score > best:
                        best, best_seq = score, seq
            kept = not best > threshold
            if kept:
                self._add(tokens, key, signature)
            results.append((kept, best, None if best_seq is None else self._keys[best_seq]))
        return results

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class BlockingRecall:
    """How many of the exact filter's drops blocking also made, on a sample."""

    sample: int
    exact_dropped: int
    both_dropped: int
    blocking_only: int

    @property
    def recall(self) -> float:
        return self.both_dropped / self.exact_dropped if self.exact_dropped else 1.0

    def message(self) -> str:
        return (f"blocking minhash: recall {self.recall:.4f} against the exact filter on a sample of {self.sample} "
                f"records ({self.both_dropped} of {self.exact_dropped} exact drops found"
                + (f"; {self.blocking_only} dropped only by blocking" if self.blocking_only else "") + ")")


def measure_recall(token_lists: Sequence[Sequence[str]], threshold: float,
                   against: Sequence[Sequence[str]] = (), sample: int = 2000) -> BlockingRecall:
    """Exact greedy vs blocking greedy on the first ``sample`` records (with the same ``against`` pool)."""
    from factory.rouge_pool import LocalRougePool

    head = list(token_lists[:sample])
    keys = list(range(len(head)))
    decisions = []
    for pool in (LocalRougePool(), MinHashRougePool()):
        pool.add_many(against, [("against", j) for j in range(len(against))])
        decisions.append(pool.greedy(head, threshold, keys))
    exact, blocked = ([not kept for kept, _, _ in d] for d in decisions)
    return BlockingRecall(sample=len(head), exact_dropped=sum(exact),
                          both_dropped=sum(e and b for e, b in zip(exact, blocked)),
                          blocking_only=sum(b and not e for e, b in zip(exact, blocked)))
