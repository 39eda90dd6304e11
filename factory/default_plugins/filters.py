"""The built-in filters: Alpaca's rules and the near-duplicate filter, as filter plugins.

Each is an ordinary plugin (registered through ``register_filters`` like a
third party's), with its own options and reason codes; the language plugin
supplies what is language-specific (the length measure, the blacklist, the
script check, the tokenizer). A recipe lists them in order::

    filters:
      - length: {min_words: 3}
      - blacklist
      - near_duplicate: {threshold: 0.7, target: instruction}

or keeps the Alpaca-era mapping (``filters: {similarity: {threshold: 0.7}, blacklist: true, ...}``), which
stands for the same list (:func:`factory.filtering.legacy_filters`).
"""

from __future__ import annotations

import string
import unicodedata
from typing import ClassVar, Literal, Sequence

from pydantic import Field

from factory.contracts import Options
from factory.filtering import Filter, FilterContext, Verdict
from factory.hookspecs import hookimpl
from factory.records import Record, Target


class TargetOptions(Options):
    target: Target = Field("instruction", description="The text judged: instruction (the first user turn), input, "
                           "output (the first assistant reply), user_turns, assistant_turns, all_turns, chosen, rejected.")


class _PerText(Filter):
    """A stateless rule checked on every text of the target; the first failing text names the rejection."""

    def check(self, text: str, record: Record) -> Verdict | None:
        raise NotImplementedError

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        verdicts: list[Verdict | None] = []
        for record in records:
            verdict = None
            for text in record.texts(self.target):
                verdict = self.check(text, record)
                if verdict is not None:
                    break
            verdicts.append(verdict)
        return verdicts

    def prepare(self, ctx: FilterContext) -> None:
        self.language = ctx.language


class LengthOptions(TargetOptions):
    min_words: int | None = Field(None, ge=0, description="Drop texts shorter than this (the language's measure); "
                                  "default: the language's minimum (Alpaca: 4 words).")
    max_words: int | None = Field(None, ge=1, description="Drop texts longer than this; default: the language's.")


class Length(_PerText):
    """Too short or too long, in the language's own measure (words, eojeols, characters...)."""

    options_model: ClassVar[type[Options]] = LengthOptions
    reasons: ClassVar[dict[str, str]] = {"too_short": "instruction shorter than the language's minimum",
                                         "too_long": "instruction longer than the language's maximum"}

    def prepare(self, ctx: FilterContext) -> None:
        super().prepare(ctx)
        o = self.options
        self.min_words = o.min_words if o.min_words is not None else ctx.language.min_instruction_words
        self.max_words = o.max_words if o.max_words is not None else ctx.language.max_instruction_words

    def describe(self) -> dict:
        return {**super().describe(), "min_words": self.min_words, "max_words": self.max_words}

    def check(self, text: str, record: Record) -> Verdict | None:
        words = self.language.count_words(text)
        if words < self.min_words:
            return "too_short", f"{words} words"
        if words > self.max_words:
            return "too_long", f"{words} words"
        return None


class Blacklist(_PerText):
    """A task a text model cannot do (images, files, audio ...), by the language's blacklist."""

    options_model: ClassVar[type[Options]] = TargetOptions
    reasons: ClassVar[dict[str, str]] = {"blacklisted": "the task needs something a text model cannot do (images, files, audio...)"}

    def check(self, text: str, record: Record) -> Verdict | None:
        word = self.language.blacklisted(text)
        return ("blacklisted", word) if word else None


class ProgramTask(_PerText):
    options_model: ClassVar[type[Options]] = TargetOptions
    reasons: ClassVar[dict[str, str]] = {"program_task": "a 'write a program' task"}

    def check(self, text: str, record: Record) -> Verdict | None:
        return ("program_task", "program task") if self.language.is_program_task(text) else None


def _starts_with_punctuation(text: str) -> bool:
    first = text[:1]
    return bool(first) and (first in string.punctuation or unicodedata.category(first).startswith("P"))


class PunctuationStart(_PerText):
    options_model: ClassVar[type[Options]] = TargetOptions
    reasons: ClassVar[dict[str, str]] = {"starts_with_punctuation": "the instruction starts with punctuation"}

    def check(self, text: str, record: Record) -> Verdict | None:
        return ("starts_with_punctuation", text[:1]) if _starts_with_punctuation(text) else None


class Script(_PerText):
    """Not written in the recipe's language, by the language plugin's script check (the cheap first pass)."""

    options_model: ClassVar[type[Options]] = TargetOptions
    reasons: ClassVar[dict[str, str]] = {"wrong_language": "the instruction is not written in the target language"}

    def check(self, text: str, record: Record) -> Verdict | None:
        return None if self.language.is_in_language(text) else ("wrong_language", f"not {self.language.code}")


class LanguageIdOptions(TargetOptions):
    target: Target = Field("all_turns", description="The texts judged (every turn of a conversation by default).")
    languages: list[str] = Field(default_factory=list, description="Languages accepted (ISO 639-1); default: the "
                                 "recipe's language.")
    min_confidence: float = Field(0.5, ge=0, le=1, description="Least probability lingua must give an accepted "
                                  "language for a text to count as written in it.")
    min_letters: int = Field(10, ge=0, description="Texts with fewer letters than this are not judged: too short "
                             "for a reliable identification (a class label such as 'Positive', a name, a number).")
    rule: Literal["every", "majority", "first"] = Field(
        "every", description="For several texts (turns): every one must be in an accepted language, most of the "
        "characters must be, or only the first text is judged. Code, URLs and numbers are left out (protected spans), "
        "and texts with fewer than min_letters letters are skipped.")


class LanguageId(Filter):
    """Written in the recipe's language, by a language-identification model (lingua), confidence in ``meta``.

    The script check (``script``) is the cheap first pass; this tells apart languages that share a script
    (English and Vietnamese) and catches a Japanese turn in a Korean conversation.
    """

    options_model: ClassVar[type[Options]] = LanguageIdOptions
    default_target: ClassVar[str] = "all_turns"
    reasons: ClassVar[dict[str, str]] = {"wrong_language": "the instruction is not written in the target language"}

    @classmethod
    def requirements_for(cls, options):
        from factory.langid import REQUIREMENT

        return [REQUIREMENT]

    def prepare(self, ctx: FilterContext) -> None:
        from factory.langid import identifier

        self.accepted = [c.lower().split("-")[0] for c in (self.options.languages or [ctx.language.code])]
        self.identifier = identifier(*self.accepted)

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        from factory.protect import mask

        least = max(1, self.options.min_letters)
        # code, URLs and numbers have no language: identify the prose around them
        prose = [[mask(t).prose for t in r.texts(self.target)] for r in records]
        texts = [[t for t in group if sum(ch.isalpha() for ch in t) >= least] for group in prose]
        if self.options.rule == "first":
            texts = [t[:1] for t in texts]
        flat = [t for group in texts for t in group]
        detections = iter(self.identifier.detect_many(flat))
        verdicts: list[Verdict | None] = []
        for record, group in zip(records, texts):
            found = [next(detections) for _ in group]
            ok = [d.language in self.accepted and d.confidence >= self.options.min_confidence for d in found]
            record.meta["language_id"] = [{"language": d.language, "confidence": d.confidence} for d in found]
            if not group:
                verdicts.append(None)
            elif self.options.rule == "majority":
                share = sum(len(t) for t, good in zip(group, ok) if good) / sum(len(t) for t in group)
                verdicts.append(None if share > 0.5 else ("wrong_language", f"{share:.0%} of the text in {'/'.join(self.accepted)}"))
            else:
                bad = next((d for d, good in zip(found, ok) if not good), None)
                verdicts.append(None if bad is None else
                                ("wrong_language", f"{bad.language or 'no language'} ({bad.confidence:.2f})"))
        return verdicts


class OutputOptions(TargetOptions):
    target: Target = Field("output", description="The text judged (see the near-duplicate filter's list).")


class EmptyOutput(_PerText):
    """An empty answer, or the no-input marker written as the answer (a teacher that wrote nothing)."""

    options_model: ClassVar[type[Options]] = OutputOptions
    default_target: ClassVar[str] = "output"
    reasons: ClassVar[dict[str, str]] = {"empty_output": "the output is empty"}

    def prepare(self, ctx: FilterContext) -> None:
        super().prepare(ctx)
        wording = ctx.language.prompt
        self.markers = {"", wording.noinput.lower(), "<noinput>", *(a.lower() for a in wording.noinput_aliases)}

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        verdicts: list[Verdict | None] = []
        for record in records:
            texts = record.texts(self.target)
            empty = not texts or any(t.strip().lower() in self.markers for t in texts)
            verdicts.append(("empty_output", "empty") if empty else None)
        return verdicts


class OutputEqualsInput(Filter):
    options_model: ClassVar[type[Options]] = Options
    default_target: ClassVar[str] = "output"
    reasons: ClassVar[dict[str, str]] = {"output_equals_input": "the output repeats the input"}

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        return [("output_equals_input", "same") if r.input.strip() and r.output.strip() == r.input.strip() else None
                for r in records]


class NearDuplicateOptions(TargetOptions):
    threshold: float = Field(0.7, ge=0, le=1, description="ROUGE-L F-measure above which a record is a near-duplicate (Alpaca: 0.7).")
    against_seeds: bool = Field(True, description="Also compare against the seed tasks.")


class NearDuplicate(Filter):
    """ROUGE-L against everything kept so far (and the seeds), on the language's tokens; greedy in journal order."""

    options_model: ClassVar[type[Options]] = NearDuplicateOptions
    stateful: ClassVar[bool] = True
    reasons: ClassVar[dict[str, str]] = {"near_duplicate": "ROUGE-L F against the pool is above the threshold"}

    def prepare(self, ctx: FilterContext) -> None:
        from factory.executors import LocalExecutor

        self.language = ctx.language
        # the executor's pool: one index here, or shards on a cluster; the same decisions either way
        self.executor = ctx.executor if ctx.executor is not None else LocalExecutor(workers=1)
        self.pool = self.executor.rouge_pool()

    def _text(self, record: Record) -> str:
        return "\n".join(record.texts(self.target))

    def _tokens(self, records: Sequence[Record]) -> list[list[str]]:
        return self.executor.tokenize_many(self.language, [self._text(r) for r in records])

    def admit(self, records: Sequence[Record], *, seeds: bool = False) -> None:
        if seeds and not self.options.against_seeds:
            return
        self.pool.add_many(self._tokens(records), [record.id for record in records])

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        verdicts: list[Verdict | None] = []
        decisions = self.pool.greedy(self._tokens(records), self.options.threshold, [r.id for r in records])
        for record, (kept, score, most_similar) in zip(records, decisions):  # greedy: kept ones joined the pool
            record.meta["max_rouge_l"] = round(float(score), 6)
            record.meta["most_similar"] = most_similar
            verdicts.append(None if kept else ("near_duplicate", f"rouge_l={score:.4f} vs {most_similar}"))
        return verdicts


BUILTIN_FILTERS: dict[str, type[Filter]] = {
    "length": Length,
    "blacklist": Blacklist,
    "program_task": ProgramTask,
    "punctuation_start": PunctuationStart,
    "script": Script,
    "empty_output": EmptyOutput,
    "output_equals_input": OutputEqualsInput,
    "near_duplicate": NearDuplicate,
    "language_id": LanguageId,
}


@hookimpl
def register_filters(register):
    for name, cls in BUILTIN_FILTERS.items():
        register(name, cls)
