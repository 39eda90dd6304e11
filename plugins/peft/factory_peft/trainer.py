"""The ``peft`` trainer: the object the factory core finds under ``trainer/peft``."""

from __future__ import annotations

from typing import ClassVar, Sequence

from factory.trainers import TrainJob, TrainResult

from factory_peft.launch import build_launch_command
from factory_peft.options import PeftOptions, parse_options


class PeftTrainer:
    """Finetunes a causal LM with TRL: sft, dpo, orpo, kto or a reward model; full, lora or qlora (see :class:`PeftOptions`)."""

    options_model: ClassVar[type[PeftOptions]] = PeftOptions

    def train(self, job: TrainJob) -> TrainResult:
        from factory_peft.run import prepare_run

        return prepare_run(job).execute()

    def launch_command(self, job: TrainJob, recipe_path: str, cli_args: Sequence[str] = ()) -> list[str]:
        """The accelerate command for a multi-GPU/multi-node run of ``recipe_path`` (``--print-launch``)."""
        return build_launch_command(parse_options(job.options), recipe_path, cli_args)
