"""Saving, checking, merging and reloading what a run produced.

``verify_adapter`` guards against the "adapter saved empty" failure of
popular scripts (a state dict filtered down to nothing, or LoRA B matrices
still at their zero initialisation after training). ``load_trained`` is the
one way back from a saved folder to a model, used by merging and the tests,
so a reload is exactly what serving code gets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factory.errors import FactoryError

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def verify_adapter(folder: Path, trained_steps: int) -> dict[str, int]:
    """Count the saved LoRA tensors; raise when the file is empty or the B matrices never moved."""
    from safetensors import safe_open

    path = folder / ADAPTER_WEIGHTS
    if not path.exists():
        raise FactoryError(f"{folder}: no {ADAPTER_WEIGHTS} was written")
    tensors = parameters = 0
    moved = False
    with safe_open(str(path), framework="pt") as handle:
        for key in handle.keys():
            if "lora_" not in key:
                continue
            tensor = handle.get_tensor(key)
            tensors += 1
            parameters += tensor.numel()
            if "lora_B" in key and bool(tensor.abs().sum() > 0):
                moved = True
    if tensors == 0 or parameters == 0:
        raise FactoryError(f"{path}: the saved adapter holds no LoRA weights")
    if trained_steps > 0 and not moved:
        raise FactoryError(f"{path}: every LoRA B matrix is still zero after {trained_steps} steps; nothing was learned")
    return {"adapter_tensors": tensors, "adapter_parameters": parameters}


def is_adapter(folder: Path) -> bool:
    return (folder / ADAPTER_CONFIG).exists()


def _model_class(folder: Path) -> Any:
    """A reward model (one-output sequence classifier) or a causal LM, as the saved folder says."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if is_adapter(folder):
        seq_cls = json.loads((folder / ADAPTER_CONFIG).read_text()).get("task_type") == "SEQ_CLS"
    else:
        architectures = json.loads((folder / "config.json").read_text()).get("architectures") or [""]
        seq_cls = architectures[0].endswith("ForSequenceClassification")
    return AutoModelForSequenceClassification if seq_cls else AutoModelForCausalLM


def load_trained(folder: str | Path, base_model: str | None = None, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a saved run folder: a full model, or base + adapter (PAD row restored).

    A reward model comes back as a sequence classifier with one output (its score).
    """
    import torch
    from transformers import AutoTokenizer

    folder = Path(folder)
    dtype = dtype or torch.float32
    tokenizer = AutoTokenizer.from_pretrained(folder)
    auto = _model_class(folder)
    if not is_adapter(folder):
        return auto.from_pretrained(folder, dtype=dtype), tokenizer
    from peft import PeftModel

    base_name = base_model or json.loads((folder / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    extra = {"num_labels": 1} if auto.__name__ == "AutoModelForSequenceClassification" else {}
    base = auto.from_pretrained(base_name, dtype=dtype, **extra)
    if len(tokenizer) > base.get_input_embeddings().weight.shape[0]:
        # the adapter file carries the trained run's embedding rows; make room for them
        base.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    base.config.pad_token_id = tokenizer.pad_token_id
    if (folder / "generation_config.json").exists():  # the trained format's stop tokens (ChatML's <|im_end|>)
        from transformers import GenerationConfig

        base.generation_config = GenerationConfig.from_pretrained(folder)
    return PeftModel.from_pretrained(base, folder), tokenizer


def merge_adapter(adapter_folder: Path, merged_folder: Path, base_model: str, dtype: Any = None) -> None:
    """Merge the adapter into an unquantized copy of the base (never into 4-bit weights) and save it."""
    model, tokenizer = load_trained(adapter_folder, base_model=base_model, dtype=dtype)
    merged = model.merge_and_unload()
    merged.save_pretrained(merged_folder)
    tokenizer.save_pretrained(merged_folder)
