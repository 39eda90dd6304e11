"""The trainer plugin contract: finetune a backbone on a dataset of canonical records.

The data files hold any row format :func:`factory.records.load_records` reads
(canonical ``messages``, Alpaca, ShareGPT, TRL preference and unpaired rows);
the trainer decides what its objective needs from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

from factory.contracts import Plugin


@dataclass
class TrainJob:
    """Everything a trainer needs, resolved by the core from the recipe."""

    data_files: list[Path]  # JSON/JSONL files of records (see the module doc)
    output_dir: Path
    options: Any  # the recipe's train options: the plugin's options_model instance (a dict from older callers)
    language: Any  # factory.languages.Language, for prompt templates
    progress: Callable[[dict[str, Any]], None] | None = None
    resume: bool = True


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)


class Trainer(Plugin):
    """Base class of trainer plugins; built as ``cls(options)`` from the recipe's ``train`` section."""

    kind: ClassVar[str] = "trainer"

    def __init__(self, options: Any = None, /, **values: Any) -> None:
        if options is None and not values:  # the options travel in the TrainJob; a bare trainer is fine
            self.options = None
            self.setup()
            return
        super().__init__(options, **values)

    def train(self, job: TrainJob) -> TrainResult:
        raise NotImplementedError

    def launch_command(self, job: TrainJob, recipe_path: str, cli_args: Sequence[str] = ()) -> list[str]:
        """The exact accelerate/torchrun command for multi-GPU runs (``--print-launch``).

        Every process it starts must run ``factory train RECIPE *cli_args``: ``cli_args``
        are the arguments that reproduce the invocation (``--data``, ``--set``, ``--out``...).
        """
