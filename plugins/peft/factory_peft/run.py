"""One training run: everything checked, then loaded, then trained, then saved.

Order matters for users: every check that can fail cleanly (options,
template, base model path, data files, device and bitsandbytes) runs before
the first weight is loaded. :func:`prepare_run` returns a
:class:`TrainingRun` holding the transformers ``Trainer`` (tests and tools
can add callbacks to it); :meth:`TrainingRun.execute` trains, resumes from
the last complete checkpoint, saves, merges, and writes the model card and
``metrics.json``.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.errors import UserError
from factory.records import Record, load_records
from factory.trainers import TrainJob, TrainResult

from factory_peft import card, checkpoints, export
from factory_peft.batching import SupervisedCollator, SupervisedDataset, pack
from factory_peft.devices import DevicePlan, check_bitsandbytes, plan_devices
from factory_peft.encoding import EncodeStats, ExampleEncoder
from factory_peft.formatting import chat_formatter, choose_formatter
from factory_peft.modeling import attach_lora, check_base_model, resolve_base_model, ensure_pad_token, fit_embeddings, load_model, load_tokenizer
from factory_peft.options import PeftOptions, parse_options

METRICS_FILE = "metrics.json"
MODEL_DIR = "model"
MERGED_DIR = "merged"


def split_records(records: list[Record], eval_size: float, seed: int) -> tuple[list[Record], list[Record]]:
    """A seeded random held-out split: ``eval_size`` is a fraction (< 1) or a count."""
    if not eval_size:
        return records, []
    count = round(eval_size * len(records)) if eval_size < 1 else int(eval_size)
    count = max(count, 1)
    if count >= len(records):
        raise UserError(f"train.eval_size: {eval_size} leaves no training examples out of {len(records)}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    held = set(order[:count])
    return [r for i, r in enumerate(records) if i not in held], [records[i] for i in sorted(held)]


def load_data(files: list[Path]) -> list[Record]:
    if not files:
        raise UserError("train: no data files to train on")
    records: list[Record] = []
    for path in files:
        records += load_records(path)
    if not records:
        raise UserError(f"train: {', '.join(map(str, files))} hold no records")
    return records


def gradient_accumulation(options: PeftOptions, plan: DevicePlan) -> int:
    per_step = options.micro_batch_size * plan.world_size
    if options.batch_size % per_step:
        raise UserError(f"train.batch_size: {options.batch_size} is not a multiple of micro_batch_size "
                        f"{options.micro_batch_size} x {plan.world_size} process(es)")
    return options.batch_size // per_step


def training_arguments(options: PeftOptions, plan: DevicePlan, output_dir: Path, has_eval: bool) -> Any:
    from transformers import TrainingArguments

    checkpointing = options.gradient_checkpointing
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=options.micro_batch_size,
        per_device_eval_batch_size=options.micro_batch_size,
        gradient_accumulation_steps=gradient_accumulation(options, plan),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        learning_rate=options.learning_rate,
        lr_scheduler_type=options.lr_scheduler,
        warmup_steps=options.warmup_steps or options.warmup_ratio,
        weight_decay=options.weight_decay,
        max_grad_norm=options.max_grad_norm,
        optim=plan.optim,
        bf16=plan.bf16,
        use_cpu=plan.device == "cpu",
        logging_steps=options.logging_steps,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=options.save_total_limit,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=(options.eval_steps or options.save_steps) if has_eval else None,
        seed=options.seed,
        data_seed=options.seed,
        activation_checkpointing=checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None,
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        report_to="none",
        disable_tqdm=True,
    )


@dataclass
class TrainingRun:
    job: TrainJob
    options: PeftOptions
    plan: DevicePlan
    tokenizer: Any
    model: Any
    trainer: Any  # transformers.Trainer
    formatter: Any
    stats: EncodeStats
    eval_stats: EncodeStats | None
    collator: SupervisedCollator
    progress: Any  # the ProgressCallback: throughput of this process
    resume_from: Path | None = None  # last complete checkpoint, when resuming
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def output_dir(self) -> Path:
        return Path(self.job.output_dir)

    def _emit(self, event: dict[str, Any]) -> None:
        if self.job.progress is not None:
            self.job.progress(event)

    def execute(self) -> TrainResult:
        resume = self.resume_from
        for warning in self.stats.warnings:
            self._emit({"event": "warning", "message": warning})
        if resume is not None:
            self._emit({"event": "resume", "checkpoint": str(resume)})
        output = self.trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        metrics = self._collect_metrics(output)
        model_dir = self.output_dir / MODEL_DIR
        self.trainer.save_model(str(model_dir))
        if not self.trainer.is_world_process_zero():
            return TrainResult(output_dir=self.output_dir, metrics=metrics)
        if self.options.method != "full":
            metrics.update(export.verify_adapter(model_dir, output.global_step))
        self._write_card(model_dir, self.options.method, metrics)
        if self.options.merge_adapter:
            import torch

            merged_dir = self.output_dir / MERGED_DIR
            dtype = torch.bfloat16 if self.plan.bf16 else torch.float32
            export.merge_adapter(model_dir, merged_dir, self.options.base_model, dtype=dtype)
            self._write_card(merged_dir, "merged", metrics)
            metrics["merged_dir"] = str(merged_dir)
        metrics["model_dir"] = str(model_dir)
        (self.output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
        return TrainResult(output_dir=self.output_dir, metrics=metrics)

    def _collect_metrics(self, output: Any) -> dict[str, Any]:
        state = self.trainer.state
        metrics: dict[str, Any] = {
            "method": self.options.method,
            "base_model": self.options.base_model,
            "template": self.formatter.name,
            "global_step": output.global_step,
            "train_loss": output.training_loss,
            "epoch": state.epoch,
            "tokens_seen": state.num_input_tokens_seen,
            "device": self.plan.device,
            "compute_dtype": self.plan.compute_dtype_name,
            "optimizer": self.plan.optim,
            "packing": self.options.packing,
            "padding_fraction": round(self.collator.padding_fraction(), 4),
            **self.progress.summary,
            **{f"train_{k}": v for k, v in self.stats.as_dict().items()},
            **self.facts,
        }
        metrics.update({k: v for k, v in output.metrics.items() if isinstance(v, (int, float))})
        if self.eval_stats is not None:
            metrics.update({f"eval_{k}": v for k, v in self.eval_stats.as_dict().items()})
            metrics.update(self.trainer.evaluate())
        if self.plan.device == "cuda":
            import torch

            metrics["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        return metrics

    def _write_card(self, folder: Path, method: str, metrics: dict[str, Any]) -> None:
        prompt, _ = self.formatter.split(card.placeholder_record())
        prefix = getattr(getattr(self.formatter, "template", None), "response_prefix", "")
        facts = card.CardFacts(
            base_model=self.options.base_model,
            method=method,
            template=self.formatter.name,
            prompt_example=prompt,
            response_prefix=prefix,
            eos_token=self.tokenizer.eos_token,
            pad_token=self.tokenizer.pad_token,
            data_files=[str(p) for p in self.job.data_files],
            hyperparameters=self.options.model_dump(mode="json", exclude={"launcher"}),
            metrics=metrics,
        )
        card.write_card(folder, facts)


def prepare_run(job: TrainJob) -> TrainingRun:
    """Validate everything cheap first, then load tokenizer, data and model and build the Trainer."""
    options = parse_options(job.options)
    formatter = choose_formatter(options.template, job.language)
    options = options.model_copy(update={"base_model": resolve_base_model(options.base_model)})
    check_base_model(options.base_model)
    records = load_data([Path(p) for p in job.data_files])
    plan = plan_devices(options)
    output_dir = Path(job.output_dir)
    resume_from = checkpoints.latest_checkpoint(output_dir) if job.resume else None
    checkpoints.record_options(output_dir, options.model_dump(mode="json"), resuming=resume_from is not None,
                               write=int(os.environ.get("RANK", "0")) == 0)
    facts: dict[str, Any] = {}
    if options.method == "qlora":
        facts["bitsandbytes"] = check_bitsandbytes(plan)
    if options.launcher and options.launcher.num_processes > 1 and plan.world_size == 1 and job.progress:
        job.progress({"event": "warning", "message": "launcher is set but this is a single process; "
                      "run the command `factory train RECIPE --print-launch` shows to use several GPUs"})

    from transformers import PrinterCallback, Trainer, set_seed

    from factory_peft.progress import ProgressCallback

    set_seed(options.seed)
    tokenizer = load_tokenizer(options)
    facts["pad_token_added"] = ensure_pad_token(tokenizer)
    if formatter is None:
        formatter = chat_formatter(tokenizer)
    train_records, eval_records = split_records(records, options.eval_size, options.seed)
    encoder = ExampleEncoder(tokenizer, formatter, options.max_length, options.train_on_inputs, options.overlong)
    train_examples, stats = encoder.encode_all(train_records)
    if not train_examples:
        raise UserError(f"train: none of the {len(train_records)} training records fit max_length={options.max_length}")
    eval_examples, eval_stats = encoder.encode_all(eval_records) if eval_records else ([], None)
    train_items = pack(train_examples, options.max_length) if options.packing else train_examples
    facts["train_rows"] = len(train_items)

    model = load_model(options, plan)
    model.config.use_cache = False  # no KV cache in training; packed position_ids need it off to isolate examples
    facts["embeddings_resized"] = fit_embeddings(model, tokenizer)
    if options.method != "full":
        model = attach_lora(model, options, quantized=options.method == "qlora")
    collator = SupervisedCollator(pad_id=tokenizer.pad_token_id)
    progress = ProgressCallback(job.progress)
    trainer = Trainer(
        model=model,
        args=training_arguments(options, plan, output_dir, has_eval=bool(eval_examples)),
        train_dataset=SupervisedDataset(train_items),
        eval_dataset=SupervisedDataset(eval_examples) if eval_examples else None,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[progress],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through job.progress, not stdout
    return TrainingRun(job=job, options=options, plan=plan, tokenizer=tokenizer, model=model, trainer=trainer,
                       formatter=formatter, stats=stats, eval_stats=eval_stats, collator=collator, progress=progress,
                       resume_from=resume_from, facts=facts)
