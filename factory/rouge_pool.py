"""A greedy ROUGE-L pool whose kept entries may live in several shards (processes, Ray actors).

The greedy filter is sequential: item ``i`` is compared with every entry kept
before it. :class:`ShardedRougePool` keeps that answer exact while the pool is
split into shards, by working in blocks of queries:

1. the block's token lists are sent to every shard at once (a broadcast); each
   shard answers, per query, the best ``(score, sequence number)`` over its own
   entries, which all predate the block;
2. the driver walks the block in order: a query's best is the maximum over the
   shards' answers and a small local index of the entries this block has kept so
   far; the keep decision (``score <= threshold``) is taken here, on the driver;
3. the block's kept entries are then appended to the shards (round robin by
   sequence number, so the layout is the same on every run).

Ties: :class:`~factory.similarity.RougeLIndex` reports, among equal scores, the
entry added first; every entry carries its global sequence number (the order it
joined the pool), so the maximum over shards takes the smallest sequence number
among equal scores, and the block's own entries (added after every shard entry)
win only with a strictly larger score. The scores are rouge_score's own floats,
so the decisions, scores and "most similar" keys are those of
:func:`factory.similarity.greedy_dedup` for any shard count or block size.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from factory.similarity import RougeLIndex

__all__ = ["InProcessShards", "LocalRougePool", "RougePool", "RougeShard", "ShardBackend", "ShardedRougePool", "best_of"]

Best = tuple[float, "int | None"]  # (score, sequence number of the entry reaching it)


class RougeShard:
    """One shard's state: a RougeLIndex whose keys are global sequence numbers.

    Plain Python, so the same class runs in-process and inside a Ray actor.
    """

    def __init__(self) -> None:
        self.index = RougeLIndex()

    def best_many(self, token_lists: Sequence[Sequence[str]]) -> list[Best]:
        return [self.index.max_score(tokens) for tokens in token_lists]

    def add_many(self, items: Sequence[tuple[Sequence[str], int]]) -> int:
        for tokens, seq in items:
            self.index.add(tokens, seq)
        return len(self.index)

    def size(self) -> int:
        return len(self.index)


def best_of(answers: Sequence[Best]) -> Best:
    """The maximum score over shards; among equal scores the smallest sequence number (added first)."""
    best_score, best_seq = 0.0, None
    for score, seq in answers:
        if seq is None:
            continue
        if best_seq is None or score > best_score or (score == best_score and seq < best_seq):
            best_score, best_seq = score, seq
    return best_score, best_seq


class ShardBackend(Protocol):
    """How a pool reaches its shards: an asynchronous broadcast and ordered appends."""

    shard_count: int

    def best_many(self, token_lists: list[list[str]]) -> list[list[Best]]:
        """Every shard's answers for the block, one list per shard."""

    def add(self, shard: int, items: list[tuple[list[str], int]]) -> None:
        """Append entries to one shard (applied before that shard's next query)."""

    def close(self) -> None:
        ...


class RougePool(Protocol):
    """What the dedup command and the near-duplicate filter need from a pool."""

    def add_many(self, token_lists: Sequence[Sequence[str]], keys: Sequence[Any]) -> None:
        ...

    def greedy(self, token_lists: Sequence[Sequence[str]], threshold: float,
               keys: Sequence[Any]) -> list[tuple[bool, float, Any | None]]:
        ...

    def close(self) -> None:
        ...


class LocalRougePool:
    """The pool as today: one RougeLIndex in this process (the local executor's)."""

    def __init__(self) -> None:
        self.index = RougeLIndex()

    def __len__(self) -> int:
        return len(self.index)

    def add_many(self, token_lists: Sequence[Sequence[str]], keys: Sequence[Any]) -> None:
        for tokens, key in zip(token_lists, keys):
            self.index.add(tokens, key)

    def greedy(self, token_lists: Sequence[Sequence[str]], threshold: float,
               keys: Sequence[Any]) -> list[tuple[bool, float, Any | None]]:
        results = []
        for tokens, key in zip(token_lists, keys):
            score, similar = self.index.max_score(tokens)
            kept = not score > threshold
            if kept:
                self.index.add(tokens, key)
            results.append((kept, score, similar))
        return results

    def close(self) -> None:
        pass


class InProcessShards:
    """Shards held in this process: the reference backend (tests, and a pool without a cluster)."""

    def __init__(self, shard_count: int) -> None:
        self.shard_count = shard_count
        self.shards = [RougeShard() for _ in range(shard_count)]

    def best_many(self, token_lists: list[list[str]]) -> list[list[Best]]:
        return [shard.best_many(token_lists) for shard in self.shards]

    def add(self, shard: int, items: list[tuple[list[str], int]]) -> None:
        self.shards[shard].add_many(items)

    def close(self) -> None:
        pass


class ShardedRougePool:
    """A greedy pool over ``backend``'s shards; decisions identical to one local index (module docstring)."""

    def __init__(self, backend: ShardBackend, block: int = 256) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self.backend = backend
        self.block = block
        self._keys: list[Any] = []  # sequence number -> the caller's key

    def __len__(self) -> int:
        return len(self._keys)

    def _append(self, items: list[tuple[list[str], Any]]) -> None:
        per_shard: list[list[tuple[list[str], int]]] = [[] for _ in range(self.backend.shard_count)]
        for tokens, key in items:
            seq = len(self._keys)
            self._keys.append(key)
            per_shard[seq % self.backend.shard_count].append((list(tokens), seq))
        for shard, shard_items in enumerate(per_shard):
            if shard_items:
                self.backend.add(shard, shard_items)

    def add_many(self, token_lists: Sequence[Sequence[str]], keys: Sequence[Any]) -> None:
        items = [(list(t), k) for t, k in zip(token_lists, keys)]
        for start in range(0, len(items), max(self.block, 4096)):
            self._append(items[start:start + max(self.block, 4096)])

    def greedy(self, token_lists: Sequence[Sequence[str]], threshold: float,
               keys: Sequence[Any]) -> list[tuple[bool, float, Any | None]]:
        results: list[tuple[bool, float, Any | None]] = []
        for start in range(0, len(token_lists), self.block):
            block = [list(t) for t in token_lists[start:start + self.block]]
            block_keys = keys[start:start + self.block]
            answers = self.backend.best_many(block) if self._keys else None
            local = RougeLIndex()  # this block's kept entries, keyed by their sequence numbers
            kept_items: list[tuple[list[str], Any]] = []
            first_seq = len(self._keys)
            for i, tokens in enumerate(block):
                score, seq = best_of([a[i] for a in answers]) if answers else (0.0, None)
                local_score, local_seq = local.max_score(tokens)
                if local_seq is not None and (seq is None or local_score > score):
                    score, seq = local_score, local_seq
                kept = not score > threshold
                if kept:
                    local.add(tokens, first_seq + len(kept_items))
                    kept_items.append((tokens, block_keys[i]))
                similar = None
                if seq is not None:
                    similar = self._keys[seq] if seq < first_seq else kept_items[seq - first_seq][1]
                results.append((kept, score, similar))
            self._append(kept_items)
        return results

    def close(self) -> None:
        self.backend.close()
