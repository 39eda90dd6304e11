"""The filter stage: quality rules and the near-duplicate filter, each with a reason code.

One rule, one reason code; the first failing rule names the rejection.
The near-duplicate pool is the seeds (optionally) plus every record kept so
far, compared through the language plugin's tokenizer.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from typing import Callable

from factory.languages import Language
from factory.records import Record
from factory.recipe import FiltersSection

#: reason code -> what it means (shown by `factory report` and the dataset card)
REASONS = {
    "bad_format": "the teacher's text could not be parsed into instruction/input/output",
    "truncated": "the response stopped on length; its last task is incomplete",
    "teacher_failed": "the teacher request failed after all retries",
    "translation_failed": "the translation request failed after all retries",
    "protected_span_lost": "code, a URL or a placeholder did not survive translation",
    "too_short": "instruction shorter than the language's minimum",
    "too_long": "instruction longer than the language's maximum",
    "blacklisted": "the task needs something a text model cannot do (images, files, audio...)",
    "program_task": "a 'write a program' task",
    "starts_with_punctuation": "the instruction starts with punctuation",
    "wrong_language": "the instruction is not written in the target language",
    "empty_output": "the output is empty",
    "output_equals_input": "the output repeats the input",
    "near_duplicate": "ROUGE-L F against the pool is above the threshold",
}

Rejection = tuple[Record, str, str]  # record, reason code, detail


def _starts_with_punctuation(text: str) -> bool:
    first = text[:1]
    return bool(first) and (first in string.punctuation or unicodedata.category(first).startswith("P"))


@dataclass
class Rule:
    reason: str
    check: Callable[[Record], str | None]  # returns a detail string when the record fails
    on_output: bool = False  # judges the output, so it must wait when outputs are written later


class FilterChain:
    """Applies the recipe's filters in order; keeps the near-duplicate pool up to date."""

    def __init__(self, config: FiltersSection, language: Language):
        self.config = config
        self.language = language
        self.field = config.similarity.field
        min_words = config.min_instruction_words if config.min_instruction_words is not None else language.min_instruction_words
        max_words = config.max_instruction_words if config.max_instruction_words is not None else language.max_instruction_words
        self.rules: list[Rule] = []
        words = language.count_words
        self.rules.append(Rule("too_short", lambda r: f"{words(r.instruction)} words" if words(r.instruction) < min_words else None))
        self.rules.append(Rule("too_long", lambda r: f"{words(r.instruction)} words" if words(r.instruction) > max_words else None))
        if config.blacklist:
            self.rules.append(Rule("blacklisted", lambda r: language.blacklisted(r.instruction)))
        if config.program_tasks:
            self.rules.append(Rule("program_task", lambda r: "program task" if language.is_program_task(r.instruction) else None))
        if config.punctuation_start:
            self.rules.append(Rule("starts_with_punctuation", lambda r: r.instruction[:1] if _starts_with_punctuation(r.instruction) else None))
        if config.script_check:
            self.rules.append(Rule("wrong_language", lambda r: None if language.is_in_language(r.instruction) else f"not {language.code}"))
        if config.empty_output:
            # a teacher that writes the no-input marker as the output has written nothing
            markers = {language.prompt.noinput.lower(), "<noinput>", *(a.lower() for a in language.prompt.noinput_aliases)}
            self.rules.append(Rule("empty_output", lambda r: "empty" if r.output.strip().lower() in markers | {""} else None, True))
        if config.output_equals_input:
            self.rules.append(Rule("output_equals_input", lambda r: "same" if r.input.strip() and r.output.strip() == r.input.strip() else None, True))
        self._index = None
        if config.similarity.enabled:
            from factory.similarity import RougeLIndex

            self._index = RougeLIndex()

    @staticmethod
    def _check(rules: list[Rule], candidates: list[Record]) -> tuple[list[Record], list[Rejection]]:
        survivors: list[Record] = []
        rejected: list[Rejection] = []
        for record in candidates:
            for rule in rules:
                detail = rule.check(record)
                if detail:
                    rejected.append((record, rule.reason, str(detail)))
                    break
            else:
                survivors.append(record)
        return survivors, rejected

    def check_outputs(self, records: list[Record]) -> tuple[list[Record], list[Rejection]]:
        """The output rules alone, for outputs written after :meth:`apply` (they stay in the pool)."""
        return self._check([r for r in self.rules if r.on_output], records)

    def add_to_pool(self, records: list[Record]) -> None:
        """Add already-accepted records (seeds, or the journal on resume) to the near-duplicate pool."""
        if self._index is None or not records:
            return
        token_lists = self.language.tokenize_many([getattr(r, self.field) for r in records])
        for record, tokens in zip(records, token_lists):
            self._index.add(tokens, key=record.id)

    def apply(self, candidates: list[Record], outputs: bool = True) -> tuple[list[Record], list[Rejection]]:
        """Filter candidates in order; kept ones join the pool before the next is checked (greedy).

        ``outputs=False`` skips the output rules, for records whose outputs are written after this
        (regenerated by a teacher); :meth:`check_outputs` judges them then.
        """
        kept: list[Record] = []
        survivors, rejected = self._check([r for r in self.rules if outputs or not r.on_output], candidates)
        if self._index is None:
            return survivors, rejected
        threshold = self.config.similarity.threshold
        token_lists = self.language.tokenize_many([getattr(r, self.field) for r in survivors])
        for record, tokens in zip(survivors, token_lists):
            score, most_similar = self._index.max_score(tokens)
            record.meta["max_rouge_l"] = round(float(score), 6)
            record.meta["most_similar"] = most_similar
            if score > threshold:
                rejected.append((record, "near_duplicate", f"rouge_l={score:.4f} vs {most_similar}"))
                continue
            self._index.add(tokens, key=record.id)
            kept.append(record)
        return kept, rejected
