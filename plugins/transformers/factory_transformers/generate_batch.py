"""One ``model.generate`` call for a batch of rows; runs in the teacher's worker thread.

Prompts are left-padded (decoder-only models continue from the last column),
every row is sampled and stopped on its own terms (:mod:`factory_transformers.sampling`),
and each row's text is cut at its first stop string.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

from factory.teachers import RetryableTeacherError

from factory_transformers.loading import LoadedModel
from factory_transformers.rows import RowResult, RowSpec
from factory_transformers.sampling import RowSampler, RowStopper


def left_pad(rows: Sequence[RowSpec], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Input ids and attention mask, padded on the left, and each row's pad length."""
    width = max(len(row.prompt_ids) for row in rows)
    pads = [width - len(row.prompt_ids) for row in rows]
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row, pad) in enumerate(zip(rows, pads)):
        ids[i, pad:] = torch.tensor(row.prompt_ids, dtype=torch.long)
        mask[i, pad:] = 1
    return ids.to(device), mask.to(device), pads


def generate_batch(loaded: LoadedModel, rows: Sequence[RowSpec],
                   should_stop: Callable[[], bool] = lambda: False) -> list[RowResult]:
    """Continue every row's prompt in one ``generate`` call; results in row order.

    When ``should_stop()`` turns true mid-way, the rows are cut short and
    RetryableTeacherError is raised: a truncated text must never reach the cache.
    """
    ids, mask, pads = left_pad(rows, loaded.pad_id, loaded.device)
    width = ids.shape[1]
    sampler = RowSampler(rows, pads, loaded.device)
    stopper = RowStopper(rows, width, loaded.eos_ids, loaded.tokenizer, abort=should_stop)
    config = GenerationConfig(
        max_new_tokens=max(row.max_new_tokens for row in rows),
        do_sample=False,  # RowSampler already chose each token; greedy takes it
        eos_token_id=sorted(loaded.eos_ids),
        pad_token_id=loaded.pad_id,
    )
    with torch.inference_mode():
        output = loaded.model.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=config,
            logits_processor=LogitsProcessorList([sampler]),
            stopping_criteria=StoppingCriteriaList([stopper]),
        )
    if stopper.aborted:
        raise RetryableTeacherError("generation abandoned: the teacher closed or every caller gave up")
    generated = output[:, width:].tolist()
    return [
        _finish(loaded, row, tokens, stopper.ends[i])
        for i, (row, tokens) in enumerate(zip(rows, generated))
    ]


def _finish(loaded: LoadedModel, row: RowSpec, tokens: list[int], end: int | None) -> RowResult:
    tokens = tokens[: end if end is not None else len(tokens)]
    reason = "length"
    if tokens and tokens[-1] in loaded.eos_ids:
        reason = "stop"
        text = loaded.tokenizer.decode(tokens[:-1], skip_special_tokens=True)
    else:
        text = loaded.tokenizer.decode(tokens, skip_special_tokens=True)
    cuts = [text.find(stop) for stop in row.stop if stop and stop in text]
    if cuts:
        text = text[: min(cuts)]
        reason = "stop"
    return RowResult(text=text, finish_reason=reason, prompt_tokens=len(row.prompt_ids),
                     completion_tokens=len(tokens))
