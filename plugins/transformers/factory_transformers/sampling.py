"""Per-row sampling and stopping inside one batched ``generate`` call.

``generate`` samples a whole batch from one global random stream with one set
of sampling parameters, so a request's text would depend on which other
requests shared its batch. Instead, :class:`RowSampler` draws each row's next
token itself, with the row's own parameters and its own seeded
``torch.Generator``, and hands ``generate`` scores where only that token is
finite; ``generate`` runs greedy (argmax) and so takes exactly that token.
:class:`RowStopper` ends each row at its own ``max_new_tokens``, stop strings
or end-of-sequence token, and remembers where.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from transformers import LogitsProcessor, StoppingCriteria

from factory_transformers.rows import RowSpec

#: Candidate counts tried, likeliest first, before a full sort for nucleus (top-p) sampling.
_NUCLEUS_TRIES = (1024, 16384)


def _nucleus(probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest set of likeliest tokens whose mass reaches ``top_p``: (probabilities, positions).

    A few hundred tokens nearly always hold the nucleus, and ``topk`` over a
    262k vocabulary is far cheaper than a full sort, so growing candidate
    sets are tried first; the full sort is the exact fallback.
    """
    for k in (*_NUCLEUS_TRIES, probs.numel()):
        values, positions = torch.topk(probs, min(k, probs.numel()))  # sorted, likeliest first
        if k >= probs.numel() or float(values.sum()) >= top_p:
            break
    keep = (torch.cumsum(values, 0) - values) < top_p  # always keeps the likeliest token
    return values[keep], positions[keep]


def _draw(weights: torch.Tensor, generator: torch.Generator | None) -> int:
    """An index drawn with probability proportional to ``weights`` (inverse CDF: one uniform, one search).

    Much faster than ``torch.multinomial`` over a large vocabulary, and it
    consumes exactly one number from the row's generator per token.
    """
    wide = torch.float32 if weights.device.type == "mps" else torch.float64
    cumulative = torch.cumsum(weights.to(wide), 0)
    point = torch.rand(1, generator=generator, device=weights.device, dtype=wide) * cumulative[-1]
    index = torch.searchsorted(cumulative, point, right=True)
    return min(int(index), weights.numel() - 1)


def choose_token(scores: torch.Tensor, spec: RowSpec, history: torch.Tensor,
                 generator: torch.Generator | None) -> int:
    """The next token of one row from its float32 scores (modified in place)."""
    if spec.repetition_penalty != 1.0 and history.numel():
        seen = scores.gather(0, history)
        scores.scatter_(0, history, torch.where(seen > 0, seen / spec.repetition_penalty,
                                                 seen * spec.repetition_penalty))
    if spec.temperature <= 0:
        return int(torch.argmax(scores))
    scores = scores / spec.temperature
    candidates: torch.Tensor | None = None  # token ids of the entries of ``scores`` when narrowed
    if spec.top_k is not None and spec.top_k < scores.numel():
        scores, candidates = torch.topk(scores, spec.top_k)
    probs = torch.softmax(scores, dim=0)
    if spec.top_p < 1.0:
        probs, positions = _nucleus(probs, spec.top_p)
        candidates = positions if candidates is None else candidates[positions]
    pick = _draw(probs, generator)
    return int(candidates[pick]) if candidates is not None else pick


class RowSampler(LogitsProcessor):
    """Chooses every row's token with that row's parameters and generator (see module doc)."""

    def __init__(self, specs: Sequence[RowSpec], pad_lengths: Sequence[int], device: torch.device):
        self.specs = list(specs)
        self.pad_lengths = list(pad_lengths)
        self.generators: list[torch.Generator | None] = []
        for spec in self.specs:
            if spec.temperature > 0:
                generator = torch.Generator(device=device)
                generator.manual_seed(spec.seed)
                self.generators.append(generator)
            else:
                self.generators.append(None)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        chosen = torch.full_like(scores, float("-inf"))
        for row, spec in enumerate(self.specs):
            history = input_ids[row, self.pad_lengths[row]:]
            token = choose_token(scores[row].float().clone(), spec, history, self.generators[row])
            chosen[row, token] = 0.0
        return chosen


class RowStopper(StoppingCriteria):
    """Ends each row at its token limit, its end-of-sequence token or its first stop string.

    ``abort()`` true ends every row at once (the teacher closed, or nobody waits for this batch).
    """

    def __init__(self, specs: Sequence[RowSpec], prompt_width: int, eos_ids: frozenset[int], tokenizer,
                 abort: Callable[[], bool] = lambda: False):
        self.abort = abort
        self.aborted = False
        self.specs = list(specs)
        self.prompt_width = prompt_width
        self.eos_ids = eos_ids
        self.tokenizer = tokenizer
        #: generated tokens of each row when it ended (None while it runs)
        self.ends: list[int | None] = [None] * len(self.specs)

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        if self.abort():
            self.aborted = True
            return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        generated = input_ids.shape[1] - self.prompt_width
        for row, spec in enumerate(self.specs):
            if self.ends[row] is not None or generated <= 0:
                continue
            if int(input_ids[row, -1]) in self.eos_ids or generated >= spec.max_new_tokens:
                self.ends[row] = generated
            elif spec.stop:
                text = self.tokenizer.decode(input_ids[row, self.prompt_width:].tolist(), skip_special_tokens=True)
                if any(stop in text for stop in spec.stop):
                    self.ends[row] = generated
        return torch.tensor([end is not None for end in self.ends], dtype=torch.bool, device=input_ids.device)
