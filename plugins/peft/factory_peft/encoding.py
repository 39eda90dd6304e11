"""Tokenize records into supervised examples: prompt masked, response + EOS learned.

The rules that popular finetuning scripts get wrong, made explicit here:

- the prompt's token count is the count of the prompt tokenized alone (what
  the model sees at serving time), checked to be a prefix of the full
  example; when a token straddles the prompt/response boundary, the common
  prefix is masked and the rest learned, and the case is counted
  (``boundary_merges``) instead of shifting the mask by one silently;
- the EOS id is appended as an id (never as text that a tokenizer may split)
  and its label is kept, so the model learns to stop;
- an over-long example is never cut silently: it is truncated (losing its
  EOS) or dropped, and both are counted in :class:`EncodeStats`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from factory.records import Record

from factory_peft.formatting import Formatter

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

    def __init__(self, tokenizer: Any, formatter: Formatter, max_length: int,
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
