"""The ``peft`` trainer: the object the factory core finds under ``trainer/peft``."""

from __future__ import annotations

from typing import ClassVar, Sequence

from factory.contracts import Requirement
from factory.trainers import Trainer, TrainJob, TrainResult

from factory_peft.launch import build_launch_command
from factory_peft.options import PeftOptions, parse_options


class PeftTrainer(Trainer):
    """Finetunes a causal LM with TRL: sft, dpo, orpo, kto or a reward model; full, lora or qlora (see :class:`PeftOptions`)."""

    options_model: ClassVar[type[PeftOptions]] = PeftOptions

    @classmethod
    def requirements_for(cls, options: PeftOptions) -> list[Requirement]:
        install = "pip install 'koalpaca-factory-peft[full]'"
        needs = [Requirement(module=m, install=install, why="trainer peft")
                 for m in ("torch", "transformers", "peft", "accelerate", "trl", "datasets")]
        if options.method == "qlora":
            needs.append(Requirement(module="bitsandbytes", install=install, why="train.method: qlora"))
        return needs

    def train(self, job: TrainJob) -> TrainResult:
        from factory_peft.run import prepare_run

        return prepare_run(job).execute()

    def launch_command(self, job: TrainJob, recipe_path: str, cli_args: Sequence[str] = ()) -> list[str]:
        """The accelerate command for a multi-GPU/multi-node run of ``recipe_path`` (``--print-launch``)."""
        return build_launch_command(parse_options(job.options), recipe_path, cli_args)
