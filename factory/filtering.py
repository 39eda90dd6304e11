"""The filter contract and the chain that runs a recipe's filters in order, each with its reason codes.

A filter plugin judges a batch of records and says, for each, nothing (keep
it) or a rejection: a reason code it declares in ``reasons`` and a detail. It
says which text it judges through its ``target`` (the instruction = the first
user turn, the output = the first assistant reply, every user turn, every
assistant turn, ...; see :data:`factory.records.TARGETS`), so the same filter
works on Alpaca records and on conversations, and a stage that writes outputs
later (KoAlpaca's regenerated answers) knows which filters must wait.

The chain hands each filter the survivors of the previous one, so the first
filter that rejects a record names the reason. A *stateful* filter (the
near-duplicate filter keeps a pool of everything kept so far) sees, through
:meth:`Filter.admit`, the seeds and the journal when a run starts or resumes.
Filters that call a teacher (a judge) implement :meth:`Filter.judge_async`;
the others :meth:`Filter.judge`, which the chain runs in a worker thread so the
teacher's next requests stay on the wire meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

from pydantic import BaseModel

from factory.contracts import Plugin
from factory.records import Record

#: (reason code, detail) of one rejected record; None keeps it
Verdict = tuple[str, str]
#: record, reason code, detail
Rejection = tuple[Record, str, str]
#: targets that hold model answers: filters on them wait when outputs are written after filtering
OUTPUT_TARGETS = {"output", "assistant_turns", "all_turns", "chosen", "rejected"}

#: reasons the engine itself gives (not a filter's)
CORE_REASONS = {
    "teacher_failed": "the teacher request failed after all retries",
    "translation_failed": "the translation request failed after all retries",
    "protected_span_lost": "code, a URL or a placeholder did not survive translation",
    "text_too_long": "a text is larger than the translation engine's request limit",
    "output_truncated": "the regenerated output stopped on length",
}


@dataclass
class FilterContext:
    """What a filter may need for a run: the language, the seed tasks, and teachers for judges."""

    language: Any  # factory.languages.Language
    seeds: list[Record] = field(default_factory=list)
    #: a TeacherClient for a teacher section (a judge), under the run's cache, usage and budget
    client_for: Callable[[Any], Any] | None = None
    #: the run's source records (before translation), for filters that compare with them (translation QA)
    inputs: list[Record] = field(default_factory=list)
    #: where CPU-bound work runs (a factory.executors.Executor); None: in this process
    executor: Any = None


class Filter(Plugin):
    """Base class of filter plugins; built as ``cls(options)`` from one item of the recipe's ``filters`` list."""

    kind: ClassVar[str] = "filter"
    #: reason code -> what it means (shown in the summary, the report and the card)
    reasons: ClassVar[dict[str, str]] = {}
    #: the text judged when the options name no ``target``
    default_target: ClassVar[str] = "instruction"
    #: keeps state across batches (a pool of kept records): fed the seeds and journal through ``admit``
    stateful: ClassVar[bool] = False

    @property
    def target(self) -> str:
        return str(getattr(self.options, "target", None) or self.default_target)

    @property
    def judges_outputs(self) -> bool:
        return self.target in OUTPUT_TARGETS

    def prepare(self, ctx: FilterContext) -> None:
        """Once per run, before any batch (load a model, read the seeds ...)."""

    def describe(self) -> dict[str, Any]:
        """The settings this filter ran with, for the manifest and the card (defaults filled in where known)."""
        return {"target": self.target, **{k: v for k, v in self.identity.items() if k != "target"}}

    def admit(self, records: Sequence[Record], *, seeds: bool = False) -> None:
        """Records kept before this batch (the seeds, or the journal on resume) join a stateful filter's pool."""

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        """One verdict per record, in order (a greedy filter lets each kept record count for the next)."""
        raise NotImplementedError

    async def judge_async(self, records: Sequence[Record]) -> list[Verdict | None]:
        """Filters that call a teacher override this; the rest run :meth:`judge` in a worker thread."""
        return await asyncio.to_thread(self.judge, list(records))

    async def aclose(self) -> None:
        """Release what judging opened (a judge's teacher client); the stage calls it once, at its end."""


@dataclass
class ConfiguredFilter:
    """A filter of the chain and the plugin name it was registered under."""

    name: str
    plugin: Filter


class FilterChain:
    """A recipe's filters, in order; :meth:`apply` judges a batch through all of them."""

    def __init__(self, filters: Sequence[ConfiguredFilter], ctx: FilterContext):
        self.filters = list(filters)
        self.ctx = ctx
        for item in self.filters:
            item.plugin.prepare(ctx)

    @classmethod
    def build(cls, configs: Sequence[Any], ctx: FilterContext) -> "FilterChain":
        """From the recipe's validated filter configs (:class:`factory.recipe.PluginConfig`)."""
        return cls([ConfiguredFilter(c.name, c.build()) for c in configs], ctx)

    @property
    def pool_judges_outputs(self) -> bool:
        """A stateful filter compares model answers: outputs must exist before the batch is filtered."""
        return any(f.plugin.stateful and f.plugin.judges_outputs for f in self.filters)

    @property
    def reasons(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for item in self.filters:
            found.update(item.plugin.reasons)
        return found

    def add_to_pool(self, records: Sequence[Record], *, seeds: bool = False) -> None:
        """Already-accepted records (seeds, or the journal on resume) for the stateful filters."""
        if not records:
            return
        for item in self.filters:
            if item.plugin.stateful:
                item.plugin.admit(records, seeds=seeds)

    async def apply(self, candidates: Sequence[Record], outputs: bool = True) -> tuple[list[Record], list[Rejection]]:
        """Judge ``candidates`` filter by filter; ``outputs=False`` leaves out the filters that judge model answers
        (for records whose outputs are written after this; :meth:`check_outputs` runs those then)."""
        chosen = [f for f in self.filters if outputs or not f.plugin.judges_outputs]
        return await self._run(chosen, candidates)

    async def check_outputs(self, records: Sequence[Record]) -> tuple[list[Record], list[Rejection]]:
        """The filters that judge model answers, alone (for outputs written after :meth:`apply`)."""
        return await self._run([f for f in self.filters if f.plugin.judges_outputs], records)

    @staticmethod
    async def _run(filters: Sequence[ConfiguredFilter], candidates: Sequence[Record]) -> tuple[list[Record], list[Rejection]]:
        survivors = list(enumerate(candidates))
        rejected: list[tuple[int, Rejection]] = []
        for item in filters:
            if not survivors:
                break
            verdicts = await item.plugin.judge_async([record for _, record in survivors])
            if len(verdicts) != len(survivors):
                raise RuntimeError(f"filter {item.name} gave {len(verdicts)} verdicts for {len(survivors)} records")
            kept = []
            for (position, record), verdict in zip(survivors, verdicts):
                if verdict is None:
                    kept.append((position, record))
                else:
                    rejected.append((position, (record, verdict[0], str(verdict[1]))))
            survivors = kept
        rejected.sort(key=lambda entry: entry[0])  # in the batch's order, as the journal reads
        return [record for _, record in survivors], [rejection for _, rejection in rejected]

    async def aclose(self) -> None:
        """Close every filter (their judges' teacher clients)."""
        for item in self.filters:
            await item.plugin.aclose()

    def apply_sync(self, candidates: Sequence[Record], outputs: bool = True) -> tuple[list[Record], list[Rejection]]:
        """:meth:`apply` outside an event loop (scripts, tests)."""
        return asyncio.run(self.apply(candidates, outputs))

    @classmethod
    def of(cls, filters: Any, language: Any, seeds: Sequence[Record] = ()) -> "FilterChain":
        """A chain from a ``filters`` value as a recipe writes it (the Alpaca-era mapping, a FiltersSection, or a
        list of ``(name, options)``), without a recipe file (scripts, tests)."""
        from factory.plugins import get_registry

        if isinstance(filters, BaseModel):
            items = legacy_filters(filters)
        elif isinstance(filters, dict):
            from factory.recipe import FiltersSection

            items = legacy_filters(FiltersSection.model_validate(filters))
        else:
            items = list(filters)
        registry = get_registry()
        built = [ConfiguredFilter(name, registry.get("filter", name).obj(**options)) for name, options in items]
        chain = cls(built, FilterContext(language=language, seeds=list(seeds)))
        chain.add_to_pool(list(seeds), seeds=True)
        return chain


def legacy_filters(section: BaseModel) -> list[tuple[str, dict[str, Any]]]:
    """The filter list a recipe's ``filters:`` mapping (the Alpaca-era form) stands for, in Alpaca's order (with
    the translation and copy checks, which Alpaca lacked, before the near-duplicate filter; each has a flag)."""
    items: list[tuple[str, dict[str, Any]]] = [
        ("length", {"min_words": section.min_instruction_words, "max_words": section.max_instruction_words})]
    for flag, name in (("blacklist", "blacklist"), ("program_tasks", "program_task"),
                       ("punctuation_start", "punctuation_start"), ("script_check", "script"),
                       ("empty_output", "empty_output"), ("output_equals_input", "output_equals_input"),
                       ("translation_qa", "translation_qa"), ("copied_demonstration", "copied_demonstration")):
        if getattr(section, flag):
            # translation QA without lingua (an optional extra): only fields the engine returned unchanged
            items.append((name, {"fields": ["instruction", "input"], "check_output_language": False}
                          if name == "translation_qa" else {}))
    similarity = section.similarity
    if similarity.enabled:
        items.append(("near_duplicate", {"threshold": similarity.threshold, "target": similarity.field,
                                         "against_seeds": similarity.against_seeds}))
    return [(name, {k: v for k, v in options.items() if v is not None}) for name, options in items]


def all_reasons() -> dict[str, str]:
    """Every reason code an installed plugin or the engine gives, with its meaning (summary, report, card)."""
    from factory.plugins import get_registry

    from factory.conversations import REASONS as CONVERSATION_REASONS

    found = {**CORE_REASONS, **CONVERSATION_REASONS}
    registry = get_registry()
    for kind in ("method", "filter"):
        for entry in registry.entries(kind):
            found.update(getattr(entry.obj, "reasons", {}) or {})
    return found
