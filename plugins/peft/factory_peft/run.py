"""One training run: everything checked, then loaded, then trained on TRL, then saved.

Order matters for users: every check that can fail cleanly (options, format,
records against the objective, base model path, data files, device and
bitsandbytes) runs before the first weight is loaded. :func:`prepare_run`
returns a :class:`TrainingRun` holding the TRL trainer (tests and tools can
add callbacks to it); :meth:`TrainingRun.execute` trains, resumes from the
last complete checkpoint, saves, merges, and writes the model card and
``metrics.json``.

What is ours around TRL: the PAD token that is never EOS, the training
formats of the language plugins, the length policy that counts every cut,
LoRA targets per architecture, resume checks, the adapter check after saving,
progress events and the metric summary.
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

from factory_peft import card, checkpoints, export, rows
from factory_peft.devices import DevicePlan, check_bitsandbytes, plan_devices
from factory_peft.lengths import LengthPolicy, LengthStats
from factory_peft.metrics import PaddingMeter, first_and_last
from factory_peft.modeling import (check_base_model, ensure_pad_token, fit_embeddings, load_model, load_tokenizer,
                                   lora_config, prepare_quantized, resolve_base_model, set_stop_token)
from factory_peft.objectives import OBJECTIVES, Objective
from factory_peft.options import PeftOptions, parse_options
from factory_peft.training_format import TrainingFormat, choose_format, example_prompt, install

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


def training_arguments(options: PeftOptions, plan: DevicePlan, output_dir: Path, has_eval: bool) -> dict[str, Any]:
    """The transformers TrainingArguments every TRL config shares (TRL's own defaults are overridden here)."""
    checkpointing = options.gradient_checkpointing
    return dict(
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
        activation_checkpointing=checkpointing,  # TRL would default it on
        activation_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        report_to="none",
        disable_tqdm=True,
    )


@dataclass
class TrainingRun:
    job: TrainJob
    options: PeftOptions
    objective: Objective
    plan: DevicePlan
    tokenizer: Any
    model: Any  # the model being trained (a PeftModel for lora/qlora)
    trainer: Any  # the TRL trainer
    format: TrainingFormat
    stats: LengthStats
    eval_stats: LengthStats | None
    padding: PaddingMeter
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
        self.tokenizer.save_pretrained(str(model_dir))  # with its PAD token and the training chat template
        generation = getattr(self.model, "generation_config", None)
        if generation is not None:  # an adapter folder has none of its own: keep the format's stop token with it
            generation.save_pretrained(str(model_dir))
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
            "objective": self.options.objective,
            "method": self.options.method,
            "base_model": self.options.base_model,
            "template": self.format.name,
            "global_step": output.global_step,
            "train_loss": output.training_loss,
            "epoch": state.epoch,
            "tokens_seen": state.num_input_tokens_seen,
            "device": self.plan.device,
            "compute_dtype": self.plan.compute_dtype_name,
            "optimizer": self.plan.optim,
            "packing": self.options.packing,
            "padding_fraction": round(self.padding.padding_fraction(), 4),
            "reference_model": self._reference(),
            **self.progress.summary,
            **{f"train_{k}": v for k, v in self.stats.as_dict().items()},
            **self.facts,
        }
        metrics.update({k: v for k, v in output.metrics.items() if isinstance(v, (int, float))})
        if self.eval_stats is not None:
            metrics.update({f"eval_{k}": v for k, v in self.eval_stats.as_dict().items()})
            metrics.update(self.trainer.evaluate())
        metrics["objective_metrics"] = first_and_last(state.log_history, self.objective.key_metrics)
        if self.plan.device == "cuda":
            import torch

            metrics["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        return metrics

    def _reference(self) -> str | None:
        """How the objective's reference log-probabilities are computed (dpo and kto have one)."""
        if self.options.objective not in ("dpo", "kto"):
            return None
        if self.options.precompute_reference:
            return "precomputed before training"
        if getattr(self.trainer, "ref_model", None) is None:
            return "the base model with the adapter disabled"
        return "a frozen copy of the base model"

    def _write_card(self, folder: Path, method: str, metrics: dict[str, Any]) -> None:
        template = self.format.prompt_template
        facts = card.CardFacts(
            base_model=self.options.base_model,
            method=method,
            objective=self.options.objective,
            template=self.format.name,
            conversational=self.format.conversational,
            prompt_example=example_prompt(self.format, self.tokenizer),
            response_prefix=template.response_prefix if template else "",
            eos_token=self.format.stop_token or self.tokenizer.eos_token,
            pad_token=self.tokenizer.pad_token,
            data_files=[str(p) for p in self.job.data_files],
            hyperparameters=self.options.model_dump(mode="json", exclude={"launcher"}),
            metrics=metrics,
        )
        card.write_card(folder, facts)


def _emit_warning(job: TrainJob, message: str) -> None:
    if job.progress is not None:
        job.progress({"event": "warning", "message": message})


def prepare_run(job: TrainJob) -> TrainingRun:
    """Validate everything cheap first, then load tokenizer, data and model and build the TRL trainer."""
    options = parse_options(job.options)
    objective = OBJECTIVES[options.objective]
    records = load_data([Path(p) for p in job.data_files])
    rows.check_records(options.objective, records, ", ".join(str(p) for p in job.data_files))
    choice = choose_format(options.template, job.language, records)
    options = options.model_copy(update={"base_model": resolve_base_model(options.base_model)})
    check_base_model(options.base_model)
    plan = plan_devices(options)
    output_dir = Path(job.output_dir)
    resume_from = checkpoints.latest_checkpoint(output_dir) if job.resume else None
    defaults = {name: f.default for name, f in PeftOptions.model_fields.items() if not f.is_required()}
    checkpoints.record_options(output_dir, options.model_dump(mode="json"), resuming=resume_from is not None,
                               write=int(os.environ.get("RANK", "0")) == 0, defaults=defaults)
    facts: dict[str, Any] = {}
    if options.method == "qlora":
        facts["bitsandbytes"] = check_bitsandbytes(plan)
    if options.launcher and options.launcher.num_processes > 1 and plan.world_size == 1:
        _emit_warning(job, "launcher is set but this is a single process; run the command "
                           "`factory train RECIPE --print-launch` shows to use several GPUs")

    import datasets
    from transformers import PrinterCallback, set_seed

    from factory_peft.progress import ProgressCallback

    datasets.disable_progress_bars()  # progress goes through job.progress
    set_seed(options.seed)
    tokenizer = load_tokenizer(options)
    facts["pad_token_added"] = ensure_pad_token(tokenizer)
    fmt = install(choice, tokenizer)
    train_records, eval_records = split_records(records, options.eval_size, options.seed)
    train_rows, train_skipped = objective.rows(train_records, fmt)
    eval_rows, eval_skipped = objective.rows(eval_records, fmt) if eval_records else ([], 0)
    if not train_rows:
        raise UserError(f"train: none of the {len(train_records)} training records has a reply to learn")

    model = load_model(options, plan, kind=objective.model_kind)
    model.config.use_cache = False  # no KV cache in training; packed position_ids need it off to isolate examples
    facts["embeddings_resized"] = fit_embeddings(model, tokenizer)
    set_stop_token(model, tokenizer, fmt.stop_token)
    if options.method == "qlora":
        model = prepare_quantized(model)
    peft_config = None
    if options.method != "full":
        added = [tokenizer.convert_tokens_to_ids(t) for t in fmt.added_tokens]
        peft_config = lora_config(model, options, kind=objective.model_kind, trainable_tokens=added)
    ref_model = None
    if objective.uses_reference and options.method == "full" and not options.precompute_reference:
        # a frozen copy with the same grown embeddings (PAD, chat-format tokens); TRL would load the checkpoint as is
        ref_model = load_model(options, plan, kind=objective.model_kind)
        fit_embeddings(ref_model, tokenizer)
        ref_model.config.use_cache = False
        ref_model.requires_grad_(False).eval()
    policy = LengthPolicy(options.max_length, options.overlong)
    progress = ProgressCallback(job.progress, objective.key_metrics)
    args = objective.config(training_arguments(options, plan, output_dir, has_eval=bool(eval_rows)), options, fmt)
    trainer = objective.build(model=model, args=args, train_rows=train_rows, eval_rows=eval_rows, tokenizer=tokenizer,
                              peft_config=peft_config, length_policy=policy,
                              skipped={"train": train_skipped, "eval": eval_skipped}, callbacks=[progress],
                              ref_model=ref_model)
    trainer.remove_callback(PrinterCallback)  # progress goes through job.progress, not stdout
    stats = policy.stats["train"]
    if not stats.examples:
        raise UserError(f"train: none of the {stats.records} training records fit max_length={options.max_length}")
    padding = PaddingMeter(trainer.data_collator, tokenizer.pad_token_id)
    trainer.data_collator = padding
    facts["train_rows"] = len(trainer.train_dataset)
    return TrainingRun(job=job, options=options, objective=objective, plan=plan, tokenizer=tokenizer,
                       model=trainer.model, trainer=trainer, format=fmt, stats=stats,
                       eval_stats=policy.stats.get("eval"), padding=padding, progress=progress,
                       resume_from=resume_from, facts=facts)
