"""factory-peft: the ``peft`` trainer plugin (full finetuning, LoRA, QLoRA).

Importing this package is cheap (pydantic only): torch, transformers, peft,
bitsandbytes and accelerate load when a run starts, so the factory CLI can
list plugins and validate recipes without them.
"""

from __future__ import annotations

from factory.hookspecs import hookimpl

from factory_peft.options import LauncherOptions, PeftOptions
from factory_peft.trainer import PeftTrainer

__all__ = ["LauncherOptions", "PeftOptions", "PeftTrainer", "register_trainers"]


@hookimpl
def register_trainers(register):
    register("peft", PeftTrainer)
