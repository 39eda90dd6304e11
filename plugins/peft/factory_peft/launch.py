"""The accelerate command that runs a recipe on several GPUs or machines.

``factory train RECIPE [ARGS] --print-launch`` prints it; every process it
starts runs ``python -m factory train RECIPE ARGS`` again, with every argument
the printed command was given (``--data``, each ``--set``, ``--out``), so all
processes train the same data with the same settings. The transformers Trainer
picks the distributed setup (DDP, FSDP from the accelerate config file,
DeepSpeed from its JSON) up from the environment accelerate prepares.
Config paths are resolved against the recipe's folder first, then the
current directory, and printed absolute so the command runs from anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from factory.errors import UserError

from factory_peft.options import LauncherOptions, PeftOptions


def resolve_config(value: str, field: str, recipe_path: str | Path | None) -> Path:
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else (
        ([Path(recipe_path).parent / path] if recipe_path else []) + [Path.cwd() / path]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise UserError(f"train.launcher.{field}: config file '{value}' not found")


def build_launch_command(options: PeftOptions, recipe_path: str | Path, cli_args: Sequence[str] = ()) -> list[str]:
    """``accelerate launch [launcher flags] -m factory train RECIPE *cli_args``."""
    launcher = options.launcher or LauncherOptions()
    command = ["accelerate", "launch"]
    if launcher.fsdp:
        command += ["--config_file", str(resolve_config(launcher.fsdp, "fsdp", recipe_path))]
    elif launcher.deepspeed:
        config = resolve_config(launcher.deepspeed, "deepspeed", recipe_path)
        command += ["--use_deepspeed", "--deepspeed_config_file", str(config)]
    elif launcher.num_processes > 1:
        command += ["--multi_gpu"]
    command += ["--num_processes", str(launcher.num_processes), "--num_machines", str(launcher.num_machines)]
    if launcher.num_machines > 1:
        command += ["--machine_rank", str(launcher.machine_rank), "--main_process_ip", str(launcher.main_process_ip)]
    if launcher.main_process_port:
        command += ["--main_process_port", str(launcher.main_process_port)]
    return command + ["-m", "factory", "train", str(recipe_path), *cli_args]
