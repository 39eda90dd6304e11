"""The ``copied_demonstration`` filter: an output (or instruction) copied from a demonstration the prompt showed.

Why: a small teacher continuing a few-shot prompt often copies a demonstration's answer under a new
instruction (the quickstart's 270M model did: a kept record answered with a seed task's output,
verbatim). The near-duplicate filter compares instructions only, so it keeps such records. This
filter compares the ``target`` text (the output by default) with the same field of the seed tasks
the prompt showed (``meta.demonstrations``, which the self-instruct methods record), by ROUGE-L F
on the language plugin's tokens, so it works on Korean morphemes as on English words.

Short texts are left alone (``min_tokens``): class labels and one-word answers ("Positive", "3")
repeat legitimately. Precision on labelled examples: docs/curation.md.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Sequence

from pydantic import Field

from factory.contracts import Options
from factory.filtering import Filter, FilterContext, Verdict
from factory.hookspecs import hookimpl
from factory.records import Record
from factory.similarity import RougeLIndex, rouge_l_f


class CopiedDemonstrationOptions(Options):
    target: Literal["output", "instruction", "input"] = Field(
        "output", description="The field compared with the same field of the demonstrations.")
    threshold: float = Field(0.7, ge=0, le=1, description="ROUGE-L F above which the text counts as copied.")
    against: Literal["shown", "seeds"] = Field(
        "shown", description="shown: the demonstrations the record's prompt showed (meta.demonstrations; a record "
        "without that list is compared with every seed); seeds: every seed task.")
    min_tokens: int = Field(4, ge=1, description="Texts with fewer tokens than this are not judged (labels, numbers).")


class CopiedDemonstration(Filter):
    """ROUGE-L of the target field against the demonstrations shown (or every seed); score in ``meta``."""

    options_model: ClassVar[type[Options]] = CopiedDemonstrationOptions
    default_target: ClassVar[str] = "output"
    reasons: ClassVar[dict[str, str]] = {
        "copied_demonstration": "the text copies a demonstration or seed task shown in the prompt (ROUGE-L)"}

    def prepare(self, ctx: FilterContext) -> None:
        self.language = ctx.language
        field = self.options.target
        seeds = [s for s in ctx.seeds if getattr(s, field).strip()]
        token_lists = self.language.tokenize_many([getattr(s, field) for s in seeds])
        self.seed_tokens = {s.id: tokens for s, tokens in zip(seeds, token_lists)}
        self.index = RougeLIndex()
        for seed, tokens in zip(seeds, token_lists):
            self.index.add(tokens, key=seed.id)

    def _score(self, record: Record, tokens: list[str]) -> tuple[float, str | None]:
        shown = record.meta.get("demonstrations")
        if self.options.against == "seeds" or not isinstance(shown, list):
            return self.index.max_score(tokens)
        best, best_id = 0.0, None
        for seed_id in shown:
            seed = self.seed_tokens.get(seed_id)
            if seed:
                score = rouge_l_f(seed, tokens)
                if score > best:
                    best, best_id = score, seed_id
        return best, best_id

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        field = self.options.target
        token_lists = self.language.tokenize_many([getattr(r, field) for r in records])
        verdicts: list[Verdict | None] = []
        for record, tokens in zip(records, token_lists):
            if len(tokens) < self.options.min_tokens:
                verdicts.append(None)
                continue
            score, seed_id = self._score(record, tokens)
            record.meta["demonstration_rouge_l"] = round(float(score), 6)
            if score > self.options.threshold:
                verdicts.append(("copied_demonstration", f"{field} rouge_l={score:.4f} vs {seed_id}"))
            else:
                verdicts.append(None)
        return verdicts


@hookimpl
def register_filters(register):
    register("copied_demonstration", CopiedDemonstration)
