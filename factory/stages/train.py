"""Finetune a backbone on the run's dataset (or a named file) with the recipe's trainer plugin."""

from __future__ import annotations

import json
import time
from pathlib import Path

from factory.context import RunContext
from factory.errors import UserError
from factory.trainers import TrainJob


def training_files(ctx: RunContext) -> list[Path]:
    """train.data when given; otherwise the run's exported train split (or its journal)."""
    section = ctx.recipe.train
    if section.data:
        path = ctx.resolve_path(section.data, "train.data")
        if path.is_dir():  # a run folder or an exported dataset folder
            for candidate in (path / "data" / "train.jsonl", path / "train.jsonl", path / "accepted.jsonl"):
                if candidate.exists():
                    return [candidate]
            raise UserError(f"train.data: {path} holds no train.jsonl or accepted.jsonl")
        return [path]
    if not ctx.recipe.is_data_recipe:
        raise UserError(f"{ctx.loaded.path}: train.data: name the dataset to train on (a JSON/JSONL file of records or a run folder)")
    exported = ctx.run.data_dir / "train.jsonl"
    chosen = exported if exported.exists() else ctx.run.accepted_path
    if not chosen.exists():
        raise UserError(f"{ctx.run.path}: no dataset yet; run `factory run {ctx.loaded.path}` first or pass --data")
    return [chosen]


TRAIN_METRICS_FILE = "train_metrics.json"


def write_train_metrics(run_path: Path, metrics: dict) -> Path:
    """``RUN/train_metrics.json``: what the trainer reported (losses, the objective's metrics first and last...)."""
    path = run_path / TRAIN_METRICS_FILE
    path.write_text(json.dumps(metrics, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def build_job(ctx: RunContext) -> TrainJob:
    section = ctx.recipe.train
    output = Path(section.output_dir) if section.output_dir else ctx.run.path / "train"

    def report(metrics: dict) -> None:
        parts = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
        ctx.progress.log(f"[train] {parts}")

    return TrainJob(data_files=training_files(ctx), output_dir=output, options=ctx.loaded.plugin("train").options,
                    language=ctx.language, progress=report, resume=True)


class TrainStage:
    name = "train"

    def describe(self, ctx: RunContext) -> str:
        options = ctx.loaded.plugin("train").options
        return (f"train: {ctx.recipe.train.plugin} {getattr(options, 'method', '')} "
                f"on {getattr(options, 'base_model', '?')}")

    def run(self, ctx: RunContext) -> None:
        started = time.monotonic()
        trainer = ctx.loaded.plugin("train").build()
        job = build_job(ctx)
        result = trainer.train(job)
        ctx.stage_seconds[self.name] = time.monotonic() - started
        ctx.provenance.train = {"output_dir": str(result.output_dir), "metrics": result.metrics}
        write_train_metrics(ctx.run.path, result.metrics)
