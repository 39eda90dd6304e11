"""Cost of the peft trainer's prompt masking and packing against a plain transformers Trainer run.

The same tiny LLaMA (built offline), the same synthetic Alpaca records and
the same TrainingArguments are trained three ways on CPU:

- plain: the full text (prompt + response + EOS) tokenized in one call and
  collated by transformers' DataCollatorForLanguageModeling (loss on every token);
- masked: factory-peft's ExampleEncoder (prompt labels -100, EOS appended as an
  id, overlong accounting) and SupervisedCollator, without packing;
- packed: the same examples packed into max_length rows (position restarts,
  no cross-example attention).

plain and masked see identical token streams (checked), so their train-time
difference is the masking machinery's overhead (target < 5%). Packing is judged
by real (non-padding) tokens per second and by the padding it removes. On a
shared machine run it with OMP_NUM_THREADS=1: oversubscribed OpenMP threads
make every variant several times slower and the comparison noise.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/training.py [--records 128] [--steps 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

from factory.default_plugins.english import English
from factory.records import Record
from factory.trainers import TrainJob

from factory_peft.batching import SupervisedCollator, SupervisedDataset, pack
from factory_peft.encoding import ExampleEncoder
from factory_peft.formatting import TemplateFormatter
from factory_peft.run import prepare_run
from factory_peft.tiny import CORPUS, save_tiny_llama

MAX_LENGTH = 256


def make_records(count: int, seed: int) -> list[Record]:
    """Alpaca records with varied response lengths (1-12 sentences), a third with an input."""
    rng = random.Random(seed)
    sentences = [s for s in CORPUS if "###" not in s]
    records = []
    for index in range(count):
        output = " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 12)))
        given = rng.choice(sentences) if index % 3 == 0 else ""
        records.append(Record.from_alpaca(rng.choice(sentences), given, output))
    return records


def options(model_dir: Path, steps: int, micro: int, packing: bool) -> dict:
    return dict(base_model=str(model_dir), method="full", template="alpaca", max_steps=steps, batch_size=micro,
                micro_batch_size=micro, max_length=MAX_LENGTH, learning_rate=1e-3, logging_steps=10_000,
                save_steps=10_000, packing=packing, seed=0)


def timed_train(trainer) -> float:
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def run_ours(model_dir: Path, data: Path, out: Path, steps: int, micro: int, packing: bool) -> dict:
    run = prepare_run(TrainJob([data], out, options(model_dir, steps, micro, packing), English()))
    seconds = timed_train(run.trainer)
    collator = run.collator
    return {"seconds": seconds, "real": collator.real_tokens, "pad": collator.pad_tokens, "rows": run.facts["train_rows"]}


def plain_ids(run, data: Path) -> list[list[int]]:
    """What a plain script feeds the Trainer: prompt + response + EOS text, tokenized in one call."""
    records = [Record.from_dict(r) for r in json.loads(data.read_text())]
    texts = ["".join(run.formatter.split(r)) + run.tokenizer.eos_token for r in records]
    return run.tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]


def run_plain(model_dir: Path, data: Path, out: Path, steps: int, micro: int) -> dict:
    """The same model and arguments through an unmodified Trainer and transformers' LM collator."""
    from transformers import DataCollatorForLanguageModeling, PrinterCallback, Trainer

    run = prepare_run(TrainJob([data], out, options(model_dir, steps, micro, False), English()))  # same model/args
    tokenizer = run.tokenizer
    encoded = plain_ids(run, data)
    counting = _CountingCollator(DataCollatorForLanguageModeling(tokenizer, mlm=False), tokenizer.pad_token_id)
    trainer = Trainer(model=run.model, args=run.trainer.args, train_dataset=[{"input_ids": ids} for ids in encoded],
                      data_collator=counting, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)  # as in factory-peft: no per-log printing in the timed loop
    seconds = timed_train(trainer)
    return {"seconds": seconds, "real": counting.real, "pad": counting.pad, "rows": len(encoded)}


class _CountingCollator:
    def __init__(self, inner, pad_id: int) -> None:
        self.inner, self.pad_id, self.real, self.pad = inner, pad_id, 0, 0

    def __call__(self, features):
        batch = self.inner(features)
        real = int((batch["input_ids"] != self.pad_id).sum())
        self.real += real
        self.pad += batch["input_ids"].numel() - real
        return batch


def preprocessing_ms(model_dir: Path, records: list[Record], repeats: int) -> dict[str, float]:
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling

    from factory_peft.modeling import ensure_pad_token

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ensure_pad_token(tokenizer)
    formatter = TemplateFormatter(English().template("alpaca"))
    encoder = ExampleEncoder(tokenizer, formatter, MAX_LENGTH)
    texts = ["".join(formatter.split(r)) + tokenizer.eos_token for r in records]

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times) * 1000

    examples, _ = encoder.encode_all(records)
    return {
        "plain tokenize": best(lambda: tokenizer(texts, truncation=True, max_length=MAX_LENGTH)),
        "encode + mask": best(lambda: encoder.encode_all(records)),
        "pack": best(lambda: pack(examples, MAX_LENGTH)),
        "collate, factory-peft SupervisedCollator": best(lambda: _collate_all(
            SupervisedDataset(examples), SupervisedCollator(tokenizer.pad_token_id))),
        "collate, transformers DataCollatorForLanguageModeling": best(lambda: _collate_all(
            [{"input_ids": e.input_ids} for e in examples], DataCollatorForLanguageModeling(tokenizer, mlm=False))),
    }


def _collate_all(dataset, collator, micro: int = 8) -> None:
    for start in range(0, len(dataset), micro):
        collator([dataset[i] for i in range(start, min(start + micro, len(dataset)))])


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

    variants = {
        "plain": lambda out: run_plain(model_dir, data, out, args.steps, args.micro),
        "masked": lambda out: run_ours(model_dir, data, out, args.steps, args.micro, False),
        "packed": lambda out: run_ours(model_dir, data, out, args.steps, args.micro, True),
    }
    variants["plain"](work / "warmup")  # first-run costs (allocator, kernels) hit no variant
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for repeat in range(args.repeats):  # interleaved, order rotated, so load drift hits every variant alike
        names = list(variants)[repeat % 3:] + list(variants)[: repeat % 3]
        for name in names:
            results[name].append(variants[name](work / f"{name}{repeat}"))
    check = prepare_run(TrainJob([data], work / "check", options(model_dir, 1, args.micro, False), English()))
    identical = [item.input_ids for item in check.trainer.train_dataset.items] == plain_ids(check, data)

    base = statistics.median(r["seconds"] for r in results["plain"])
    base_rate = statistics.median(r["real"] / r["seconds"] for r in results["plain"])
    print(f"tiny LLaMA (hidden {args.hidden}, {args.layers} layers), {args.records} records, {args.steps} steps x micro batch {args.micro}, "
          f"max_length {MAX_LENGTH}, {torch.get_num_threads()} CPU threads, median of {args.repeats}")
    print(f"plain and masked token streams identical: {'yes' if identical else 'NO'}")
    print()
    print("| run | train s (median) | vs plain | real tokens/s | vs plain | padding share | rows |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rate = statistics.median(r["real"] / r["seconds"] for r in runs)
        pad = runs[0]["pad"] / (runs[0]["pad"] + runs[0]["real"])
        print(f"| {name} | {seconds:.3f} | {100 * (seconds / base - 1):+.1f}% | {rate:,.0f} | "
              f"{100 * (rate / base_rate - 1):+.1f}% | {100 * pad:.1f}% | {runs[0]['rows']} |")
    print()
    print(f"| preprocessing of {args.records} records | ms (best of {args.repeats}) |")
    print("| --- | ---: |")
    for name, ms in preprocessing_ms(model_dir, records, args.repeats).items():
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
