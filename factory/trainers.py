"""The trainer plugin contract: finetune a backbone on an Alpaca-format dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from factory.contracts import Plugin


@dataclass
class TrainJob:
    """Everything a trainer needs, resolved by the core from the recipe."""

    data_files: list[Path]  # Alpaca JSON/JSONL files
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

    def launch_command(self, job: TrainJob, recipe_path: str) -> list[str]:
        """The exact accelerate/torchrun command for multi-GPU runs (``--print-launch``)."""
