"""Where a run computes, in which precision, with which optimizer; and whether 4-bit can run there.

Decided before any weight is loaded, so an impossible combination (QLoRA
with a bitsandbytes build that cannot serve the device, bf16 on a GPU
without it) fails in one line instead of after minutes of loading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from factory.errors import UserError

from factory_peft.messages import first_line
from factory_peft.options import PeftOptions


@dataclass(frozen=True)
class DevicePlan:
    device: str  # "cuda" or "cpu"
    local_rank: int
    world_size: int
    bf16: bool  # bf16 mixed precision (and QLoRA compute dtype)
    optim: str  # transformers optimizer name

    @property
    def compute_dtype_name(self) -> str:
        return "bfloat16" if self.bf16 else "float32"

    @property
    def device_map(self) -> dict[str, object]:
        """Whole model on this process's device (what DDP and QLoRA expect)."""
        return {"": self.local_rank if self.device == "cuda" else "cpu"}


def plan_devices(options: PeftOptions) -> DevicePlan:
    import torch

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    bf16_supported = cuda and torch.cuda.is_bf16_supported()
    if options.bf16 == "auto":
        bf16 = bf16_supported
    elif options.bf16 and cuda and not bf16_supported:
        raise UserError("train.bf16: this GPU does not support bfloat16; set bf16: false (fp32) or auto")
    else:
        bf16 = bool(options.bf16)
    optim = "paged_adamw_8bit" if options.method == "qlora" and cuda else "adamw_torch"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if cuda and world_size == 1 and torch.cuda.device_count() > 1:
        # one process would wrap the model in nn.DataParallel, which TRL's trainers refuse
        raise UserError(f"{torch.cuda.device_count()} GPUs are visible to a single process: run the command "
                        "`factory train RECIPE --print-launch` prints (one process per GPU), or choose one GPU "
                        "with CUDA_VISIBLE_DEVICES=0")
    return DevicePlan(
        device=device,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        world_size=world_size,
        bf16=bf16,
        optim=optim,
    )


def check_bitsandbytes(plan: DevicePlan) -> str:
    """Probe 4-bit nf4 quantization and a 4-bit matmul on the run's device; return the bitsandbytes version.

    Raises a one-line UserError naming the version, the device and the cause when
    the installed build cannot do it (missing, no CPU backend, no CUDA binary...).
    """
    try:
        import bitsandbytes as bnb
        import bitsandbytes.functional as bnbf
        import torch
    except Exception as exc:  # ImportError, or a broken native library raising at import
        raise UserError(f"method qlora needs bitsandbytes, which cannot be imported here ({first_line(exc)}); "
                        "install it with: pip install 'factory-peft[qlora]'") from None
    version = getattr(bnb, "__version__", "?")
    try:
        dtype = torch.bfloat16 if plan.bf16 else torch.float32
        weight = torch.randn(64, 64, dtype=dtype, device=plan.device)
        packed, state = bnbf.quantize_4bit(weight, quant_type="nf4", compress_statistics=True)
        x = torch.randn(2, 64, dtype=dtype, device=plan.device)
        bnb.matmul_4bit(x, packed.t(), quant_state=state)
    except Exception as exc:
        raise UserError(f"method qlora: bitsandbytes {version} cannot run 4-bit nf4 on {plan.device} "
                        f"({first_line(exc)}); use method lora or a build of bitsandbytes for this device") from None
    return version

