"""Load a model and its tokenizer on the right device, in the right dtype, with one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from factory.errors import UserError

from factory_transformers.model_source import ModelSource, first_line


@dataclass
class LoadedModel:
    """A model ready to generate, and what the teacher needs to know about it."""

    model: Any  # a transformers PreTrainedModel in eval mode
    tokenizer: Any
    device: Any  # torch.device
    eos_ids: frozenset[int]
    pad_id: int
    max_context: int | None  # positions the model can attend to, if the config says


def pick_device(requested: str) -> Any:
    """``auto`` is CUDA when torch sees a GPU, else CPU (MPS only when asked for)."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise UserError(f"teacher.device: unknown device {requested!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"teacher.device: {requested} asked for, but torch sees no CUDA GPU")
    return device


def pick_dtype(requested: str, device: Any) -> Any:
    """``auto``: bfloat16 on CUDA (float16 on GPUs without bf16), float32 on CPU and MPS.

    CPU matmuls in half precision are slow or unsupported on many machines,
    so CPU stays in float32 unless the recipe says otherwise.
    """
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_model(source: ModelSource, device_name: str, dtype_name: str) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = pick_device(device_name)
    dtype = pick_dtype(dtype_name, device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path)
        model = AutoModelForCausalLM.from_pretrained(source.path, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"teacher.model: cannot load {source.description}: {first_line(exc)}") from None
    model.to(device)
    model.eval()
    eos_ids = _eos_ids(model, tokenizer)
    if not eos_ids:
        raise UserError(f"teacher.model: {source.description} names no end-of-sequence token (eos_token)")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos_ids)
    max_context = getattr(model.config, "max_position_embeddings", None)
    return LoadedModel(model=model, tokenizer=tokenizer, device=device, eos_ids=eos_ids, pad_id=pad_id,
                       max_context=max_context if isinstance(max_context, int) else None)


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """End-of-sequence ids from the generation config (chat models list several) and the tokenizer."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)
