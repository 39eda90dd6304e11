"""The ``decontaminate`` filter: drop records that share n-grams with benchmark prompts (:mod:`factory.decontamination`).

A recipe names the benchmarks the dataset will be evaluated on::

    filters:
      - decontaminate: {benchmarks: [bench/mmlu_test.jsonl, bench/kobest/], allow: ["Answer with the letter"]}

Each removed record says which benchmark item it matched (``benchmark:item score="shared phrase"`` in
the rejection detail, the same in ``meta.contamination``). ``factory decontaminate`` does the same on
any file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar, Sequence

from pydantic import Field

from factory.contracts import Options, identity_of, path_option
from factory.filtering import Filter, FilterContext, Verdict
from factory.hookspecs import hookimpl
from factory.records import Record, Target


class DecontaminateOptions(Options):
    target: Target = Field("user_turns", description="The texts compared (every user turn by default: the "
                           "instruction with its input).")
    benchmarks: list[str] = path_option(..., min_length=1, description="Benchmark prompt sets: JSONL, JSON, "
                                        "parquet or arrow files, or folders of them (a saved dataset).")
    benchmark_fields: list[str] = Field(default_factory=list, description="Fields holding a benchmark row's prompt; "
                                        "default: prompt, question, instruction, input, ... and user turns.")
    n: int = Field(8, ge=2, le=50, description="N-gram length, in the language plugin's tokens (words, morphemes).")
    threshold: float = Field(0.5, gt=0, le=1, description="Share of the shorter text's n-grams that must be shared "
                             "with one benchmark item.")
    min_item_tokens: int = Field(5, ge=1, description="A text shorter than n counts as one n-gram when it has at "
                                 "least this many tokens.")
    allow: list[str] = Field(default_factory=list, description="Shared instruction templates: n-grams inside them "
                             "are never contamination (added to the language plugin's own list).")
    allow_file: str | None = path_option(None, description="A file of such templates, one per line.")
    template_items: int = Field(5, ge=0, description="An n-gram found in this many benchmark items or more is the "
                                "benchmark's own template, not contamination (0: off).")


class Decontaminate(Filter):
    """N-gram overlap with the named benchmarks' prompts, on the language plugin's content tokens."""

    options_model: ClassVar[type[Options]] = DecontaminateOptions
    default_target: ClassVar[str] = "user_turns"
    reasons: ClassVar[dict[str, str]] = {
        "contaminated": "the text shares n-grams with a benchmark prompt (benchmark item in the detail)"}

    @classmethod
    def identity_for(cls, options: DecontaminateOptions) -> dict[str, Any]:
        """The benchmarks' and the allow-list's contents, not their paths."""
        from factory.decontamination import benchmark_digest

        identity = identity_of(options)
        identity["benchmarks"] = benchmark_digest(options.benchmarks)
        if options.allow_file:
            path = Path(options.allow_file)
            identity["allow_file"] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
        return identity

    @classmethod
    def requirements_for(cls, options: DecontaminateOptions) -> list:
        from factory.decontamination import PYARROW, needs_pyarrow

        return [PYARROW] if needs_pyarrow(options.benchmarks) else []

    def describe(self) -> dict[str, Any]:
        found = getattr(self, "index", None)
        return {**super().describe(), "benchmarks": [Path(p).name for p in self.options.benchmarks],
                **({"benchmark_items": len(found.items)} if found is not None else {})}

    def prepare(self, ctx: FilterContext) -> None:
        from factory.decontamination import build_index, read_phrases

        o = self.options
        self.language = ctx.language
        allow = [*o.allow, *(read_phrases(o.allow_file) if o.allow_file else [])]
        self.index = build_index(ctx.language, o.benchmarks, fields=o.benchmark_fields, n=o.n, threshold=o.threshold,
                                 min_item_tokens=o.min_item_tokens, allow=allow, template_items=o.template_items)

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        token_lists = self.language.ngram_tokens_many(["\n".join(r.texts(self.target)) for r in records])
        verdicts: list[Verdict | None] = []
        for record, tokens in zip(records, token_lists):
            found = self.index.match(tokens)
            if found is None:
                verdicts.append(None)
            else:
                record.meta["contamination"] = found.to_meta()
                verdicts.append(("contaminated", found.detail()))
        return verdicts


@hookimpl
def register_filters(register):
    register("decontaminate", Decontaminate)
