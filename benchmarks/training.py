"""The peft trainer's TRL path against the hand-written SFT path it replaced, in one run.

The same tiny LLaMA (built offline), the same synthetic Alpaca records and
the same TrainingArguments are trained four ways on CPU:

- handwritten: factory-peft 0.1's ExampleEncoder (prompt labels -100, EOS
  appended as an id) and SupervisedCollator under a transformers Trainer
  (benchmarks/handwritten_sft.py, the code before TRL);
- handwritten packed: the same examples packed best-fit into max_length rows
  (restarted positions, padded to the longest row of the micro batch);
- trl: factory-peft's TRL path (``prepare_run``: SFTTrainer, prompt/completion
  rows, completion-only loss, its collator and fused loss);
- trl packed: TRL's best-fit packing, collated as rows with restarted positions
  (factory_peft.packed_rows: what the trainer does with sdpa/eager attention);
- trl packed flat: TRL's own padding-free collation, the whole micro batch one
  flat row (what the trainer does with FlashAttention's variable-length kernels).

The benchmark checks that the TRL path trains on exactly the hand-written
token stream and labels, so the runs do the same learning work; the ratios are
TRL over hand-written. A last row trains multi-turn conversations (vicuna-v1.1
format, every assistant turn learned), which the hand-written path could not.
Run it with OMP_NUM_THREADS=1 on a shared machine: oversubscribed OpenMP
threads make every variant several times slower and the comparison noise.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/training.py [--records 128] [--steps 20] [--repeats 5] [--hidden 64] [--layers 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory.default_plugins.english import English  # noqa: E402
from factory.records import Record  # noqa: E402
from factory.trainers import TrainJob  # noqa: E402

from factory_peft.devices import plan_devices  # noqa: E402
from factory_peft.modeling import ensure_pad_token, fit_embeddings  # noqa: E402
from factory_peft.options import parse_options  # noqa: E402
from factory_peft.run import prepare_run, training_arguments  # noqa: E402
from factory_peft.tiny import CORPUS, save_tiny_llama  # noqa: E402

import handwritten_sft as hw  # noqa: E402

MAX_LENGTH = 256


def make_records(count: int, seed: int) -> list[Record]:
    """Alpaca records with varied response lengths (1-12 sentences), a third with an input."""
    rng = random.Random(seed)
    sentences = [s for s in CORPUS if "###" not in s and "<|" not in s]
    records = []
    for index in range(count):
        output = " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 12)))
        given = rng.choice(sentences) if index % 3 == 0 else ""
        records.append(Record.from_alpaca(rng.choice(sentences), given, output))
    return records


def make_conversations(count: int, seed: int) -> list[Record]:
    """Conversations of 1-4 turns built from the same sentences."""
    rng = random.Random(seed)
    sentences = [s for s in CORPUS if "###" not in s and "<|" not in s]
    records = []
    for _ in range(count):
        messages = []
        for _ in range(rng.randint(1, 4)):
            messages += [{"role": "user", "content": rng.choice(sentences)},
                         {"role": "assistant", "content": " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 4)))}]
        records.append(Record(messages))
    return records


def options(model_dir: Path, steps: int, micro: int, packing: bool, **extra) -> dict:
    chosen = dict(base_model=str(model_dir), method="full", template="alpaca", max_steps=steps, batch_size=micro,
                  micro_batch_size=micro, max_length=MAX_LENGTH, learning_rate=1e-3, logging_steps=10_000,
                  save_steps=10_000, packing=packing, seed=0)
    return {**chosen, **extra}


def timed_train(trainer) -> float:
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def run_trl(model_dir: Path, data: Path, out: Path, steps: int, micro: int, packing: bool, flat: bool = False,
            **extra) -> dict:
    run = prepare_run(TrainJob([data], out, options(model_dir, steps, micro, packing, **extra), English()))
    if flat:  # TRL's padding-free collator, as the trainer uses it with flash attention
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        from factory_peft.metrics import PaddingMeter

        pad = run.tokenizer.pad_token_id
        run.padding = run.trainer.data_collator = PaddingMeter(DataCollatorForLanguageModeling(pad, padding_free=True), pad)
    seconds = timed_train(run.trainer)
    return {"seconds": seconds, "real": run.padding.real_tokens, "pad": run.padding.pad_tokens,
            "rows": len(run.trainer.train_dataset)}


def handwritten_examples(tokenizer, records: list[Record]) -> list:
    encoder = hw.ExampleEncoder(tokenizer, hw.TemplateFormatter(English().template("alpaca")), MAX_LENGTH)
    return encoder.encode_all(records)[0]


def run_handwritten(model_dir: Path, records: list[Record], out: Path, steps: int, micro: int, packing: bool) -> dict:
    """factory-peft 0.1: its encoder, packer and collator under a plain transformers Trainer, same arguments."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, Trainer, TrainingArguments

    opts = parse_options(options(model_dir, steps, micro, packing))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ensure_pad_token(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    fit_embeddings(model, tokenizer)
    examples = handwritten_examples(tokenizer, records)
    items = hw.pack(examples, MAX_LENGTH) if packing else examples
    collator = hw.SupervisedCollator(pad_id=tokenizer.pad_token_id)
    args = TrainingArguments(**training_arguments(opts, plan_devices(opts), out, has_eval=False),
                             remove_unused_columns=False)
    trainer = Trainer(model=model, args=args, train_dataset=hw.SupervisedDataset(items), data_collator=collator,
                      processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    seconds = timed_train(trainer)
    return {"seconds": seconds, "real": collator.real_tokens, "pad": collator.pad_tokens, "rows": len(items)}


def same_learning_work(model_dir: Path, data: Path, records: list[Record], out: Path) -> bool:
    """The TRL path's prepared token ids and labels equal the hand-written encoder's, example by example."""
    run = prepare_run(TrainJob([data], out, options(model_dir, 1, 8, False), English()))
    ours = handwritten_examples(run.tokenizer, records)
    rows = run.trainer.train_dataset
    return rows["input_ids"] == [e.input_ids for e in ours] and rows["labels"] == [e.labels for e in ours]


def median(runs: list[dict], key) -> float:
    return statistics.median(key(r) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--micro", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="factory-bench-"))
    model_dir = work / "tiny-llama"
    save_tiny_llama(model_dir, hidden=args.hidden, layers=args.layers)
    records = make_records(args.records, seed=0)
    data = work / "data.json"
    data.write_text(json.dumps([r.to_dict() for r in records], ensure_ascii=False), encoding="utf-8")
    conversations = work / "conversations.jsonl"
    conversations.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n"
                                     for r in make_conversations(args.records, seed=1)), encoding="utf-8")

    variants = {
        "handwritten": lambda out: run_handwritten(model_dir, records, out, args.steps, args.micro, False),
        "trl": lambda out: run_trl(model_dir, data, out, args.steps, args.micro, False),
        "handwritten packed": lambda out: run_handwritten(model_dir, records, out, args.steps, args.micro, True),
        "trl packed": lambda out: run_trl(model_dir, data, out, args.steps, args.micro, True),
        "trl packed flat": lambda out: run_trl(model_dir, data, out, args.steps, args.micro, True, flat=True),
        "trl conversations": lambda out: run_trl(model_dir, conversations, out, args.steps, args.micro, False,
                                                 **{"template": "vicuna-v1.1"}),
    }
    variants["handwritten"](work / "warmup")  # first-run costs (allocator, kernels) hit no variant
    variants["trl"](work / "warmup-trl")
    results: dict[str, list[dict]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(args.repeats):  # interleaved, order rotated, so load drift hits every variant alike
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            results[name].append(variants[name](work / f"{name.replace(' ', '-')}{repeat}"))
    identical = same_learning_work(model_dir, data, records, work / "check")

    baseline = {"trl": "handwritten", "trl packed": "handwritten packed", "trl packed flat": "handwritten packed"}
    lines = [
        f"tiny LLaMA (hidden {args.hidden}, {args.layers} layers), {args.records} records, {args.steps} steps x micro "
        f"batch {args.micro}, max_length {MAX_LENGTH}, {torch.get_num_threads()} CPU thread(s), median of {args.repeats}; "
        f"torch {torch.__version__}, Python {platform.python_version()}",
        f"TRL path trains on the hand-written token ids and labels: {'yes' if identical else 'NO'}",
        "",
        "| run | train s | real tokens/s | TRL / hand-written tokens/s | padding share | rows |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rates = {name: median(runs, lambda r: r["real"] / r["seconds"]) for name, runs in results.items()}
    for name, runs in results.items():
        pad = runs[0]["pad"] / max(runs[0]["pad"] + runs[0]["real"], 1)
        ratio = f"{rates[name] / rates[baseline[name]]:.2f}x" if name in baseline else "-"
        lines.append(f"| {name} | {median(runs, lambda r: r['seconds']):.3f} | {rates[name]:,.0f} | {ratio} | "
                     f"{100 * pad:.1f}% | {runs[0]['rows']} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
