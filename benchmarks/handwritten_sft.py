"""The peft plugin's hand-written SFT data path before TRL, kept as the baseline of benchmarks/training.py.

This is the code the trainer used until it moved to TRL's SFTTrainer
(factory-peft 0.1, commit 446cfea): a single-turn template splits each record
into prompt and response, :class:`ExampleEncoder` tokenizes them with the
prompt masked and EOS appended as an id, :func:`pack` bins examples into rows
with restarted positions, and :class:`SupervisedCollator` pads. It lives here
only so the benchmark can measure the TRL path against it in the same run;
nothing in the product imports it.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

from factory.records import Record


@dataclass
class TemplateFormatter:
    """A language plugin's template: the response follows the rendered prompt."""

    template: Any  # factory.languages.PromptTemplate
    add_special_tokens: bool = True

    @property
    def name(self) -> str:
        return self.template.name

    def split(self, record: Record) -> tuple[str, str]:
        prompt = self.template.render(record.instruction, record.input)
        # KoAlpaca trains "### 답변: {output}": a separator the serving prompt ("### 답변:") does not carry.
        prefix = getattr(self.template, "response_prefix", "")
        return prompt, prefix + record.output


IGNORE_INDEX = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class EncodeStats:
    """What happened to the records on their way to examples (written to metrics.json)."""

    records: int = 0
    examples: int = 0
    truncated: int = 0  # response cut at max_length, EOS lost
    dropped_overlong: int = 0  # overlong: drop
    dropped_prompt_too_long: int = 0  # not even one response token fits
    dropped_empty_output: int = 0
    boundary_merges: int = 0  # a token spanned the prompt/response boundary (masked with the prompt)
    prompt_tokens: int = 0
    response_tokens: int = 0  # learned tokens, EOS included
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("warnings")
        return data


class ExampleEncoder:
    """Encodes records with one tokenizer and one formatter."""

    def __init__(self, tokenizer: Any, formatter: TemplateFormatter, max_length: int,
                 train_on_inputs: bool = False, overlong: str = "truncate") -> None:
        if tokenizer.eos_token_id is None:
            from factory.errors import UserError

            raise UserError("the base model's tokenizer defines no EOS token; the model could never learn to stop")
        self.tokenizer = tokenizer
        self.formatter = formatter
        self.max_length = max_length
        self.train_on_inputs = train_on_inputs
        self.overlong = overlong
        self.eos_id = tokenizer.eos_token_id
        self._auto_eos = self._appends_eos()

    def _appends_eos(self) -> bool:
        """True when the tokenizer's post-processor already ends every encoding with EOS."""
        if not self.formatter.add_special_tokens:
            return False
        with_special = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        without = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        return bool(with_special) and with_special[-1] == self.eos_id and without[-1:] != [self.eos_id]

    def _batch_ids(self, texts: list[str]) -> list[list[int]]:
        """Tokenize in one batched call (the fast tokenizers' parallel path), dropping an automatic EOS."""
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=self.formatter.add_special_tokens)["input_ids"]
        return [ids[:-1] if self._auto_eos and ids and ids[-1] == self.eos_id else list(ids) for ids in encoded]

    def _assemble(self, prompt_ids: list[int], ids: list[int], stats: EncodeStats) -> Example | None:
        n_prompt = len(prompt_ids)
        if ids[:n_prompt] != prompt_ids:
            stats.boundary_merges += 1
            n_prompt = next((i for i, (a, b) in enumerate(zip(ids, prompt_ids)) if a != b), min(len(ids), n_prompt))
        if not ids or ids[-1] != self.eos_id:
            ids.append(self.eos_id)
        if len(ids) > self.max_length:
            if n_prompt >= self.max_length - 1:
                stats.dropped_prompt_too_long += 1
                return None
            if self.overlong == "drop":
                stats.dropped_overlong += 1
                return None
            stats.truncated += 1
            ids = ids[: self.max_length]
        labels = list(ids) if self.train_on_inputs else [IGNORE_INDEX] * n_prompt + ids[n_prompt:]
        stats.examples += 1
        stats.prompt_tokens += n_prompt
        stats.response_tokens += len(ids) - n_prompt
        return Example(input_ids=ids, labels=labels)

    def encode_all(self, records: Iterable[Record]) -> tuple[list[Example], EncodeStats]:
        stats = EncodeStats()
        records = list(records)
        stats.records = len(records)
        kept = [r for r in records if r.output.strip()]
        stats.dropped_empty_output = len(records) - len(kept)
        splits = [self.formatter.split(r) for r in kept]
        prompts = self._batch_ids([prompt for prompt, _ in splits])
        fulls = self._batch_ids([prompt + response for prompt, response in splits])
        examples = [ex for ex in (self._assemble(p, f, stats) for p, f in zip(prompts, fulls)) if ex is not None]
        if stats.truncated:
            stats.warnings.append(
                f"{stats.truncated} example(s) longer than max_length={self.max_length} were truncated and lost "
                "their EOS; raise max_length or set overlong: drop"
            )
        dropped = stats.dropped_overlong + stats.dropped_prompt_too_long
        if dropped:
            stats.warnings.append(f"{dropped} example(s) longer than max_length={self.max_length} were dropped")
        if stats.dropped_empty_output:
            stats.warnings.append(f"{stats.dropped_empty_output} record(s) with an empty output were skipped")
        return examples, stats


@dataclass
class PackedRow:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def pack(examples: Sequence[Example], max_length: int) -> list[PackedRow]:
    """Best-fit decreasing bin packing of examples into rows of at most ``max_length`` tokens."""
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i]), i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (remaining room, bin index), sorted
    for index in order:
        size = len(examples[index])
        slot = bisect.bisect_left(free, (size, -1))
        if slot < len(free):
            room, bin_index = free.pop(slot)
            bins[bin_index].append(index)
            bisect.insort(free, (room - size, bin_index))
        else:
            bins.append([index])
            bisect.insort(free, (max_length - size, len(bins) - 1))
    rows = []
    for members in bins:
        members.sort()  # keep the data order inside a row
        row = PackedRow([], [], [])
        for index in members:
            ex = examples[index]
            row.input_ids += ex.input_ids
            row.labels += ex.labels
            row.position_ids += list(range(len(ex)))
        rows.append(row)
    return rows


class SupervisedDataset:
    """A map-style dataset of examples or packed rows (what the Trainer's DataLoader iterates)."""

    def __init__(self, items: Sequence[Example | PackedRow]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        item = self.items[index]
        features = {"input_ids": item.input_ids, "labels": item.labels}
        if isinstance(item, PackedRow):
            features["position_ids"] = item.position_ids
        return features

    def token_count(self) -> int:
        return sum(len(item) for item in self.items)


@dataclass
class SupervisedCollator:
    """Right-pads a micro-batch: PAD ids, -100 labels, and a mask or restarted positions."""

    pad_id: int
    pad_to_multiple_of: int | None = None
    real_tokens: int = 0  # counters over every batch collated, for the padding report
    pad_tokens: int = 0

    def padding_fraction(self) -> float:
        total = self.real_tokens + self.pad_tokens
        return self.pad_tokens / total if total else 0.0

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        packed = "position_ids" in features[0]
        batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
        batch["position_ids" if packed else "attention_mask"] = []
        for f in features:
            gap = width - len(f["input_ids"])
            self.real_tokens += len(f["input_ids"])
            self.pad_tokens += gap
            batch["input_ids"].append(f["input_ids"] + [self.pad_id] * gap)
            batch["labels"].append(f["labels"] + [IGNORE_INDEX] * gap)
            if packed:
                batch["position_ids"].append(f["position_ids"] + list(range(gap)))
            else:
                batch["attention_mask"].append([1] * len(f["input_ids"]) + [0] * gap)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}
