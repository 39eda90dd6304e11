"""The ``evol-instruct`` method (WizardLM): harder instructions evolved from easier ones, generation by generation.

Each request takes one instruction from the pool (the seed tasks, then every record kept so far)
and asks the teacher to evolve it with one operation, drawn per item from the recipe seed:

- in depth (harder): add a constraint, deepen the question, make it concrete, ask for more
  reasoning steps, or give it a concrete input to work on (a table, code, a formula);
- in breadth (wider): a new instruction of the same domain on a rarer topic.

The teacher then answers the evolved instruction, and the elimination rules of the WizardLM paper
drop failed evolutions (the parent stays in the pool, so it is evolved again when the queue comes
round):

1. no information gain: a second request asks whether the evolved and the original instruction ask
   for the same thing (``check_equality``) -> ``evol_no_gain``;
2. the answer is a refusal (a refusal word in an answer shorter than 80 words) -> ``evol_refusal``;
3. the answer holds only punctuation and stop words -> ``evol_empty_response``;
4. the evolved instruction copies words of the evolving prompt ("rewritten prompt", its labels)
   -> ``evol_copied_prompt``.

``meta.evol`` records the generation (a seed is generation 0, its evolution 1, ...), the operation,
the parent and the root seed; ``max_generations`` stops a line of evolution (WizardLM ran 4).

**lookahead = 0**: batch ``b`` evolves the instructions at queue positions ``b * batch_size ...``
of the pool *as the journal holds it before batch b* (seeds, then kept records in journal order,
those at ``max_generations`` left out; positions wrap round). A batch therefore starts only after
the previous one is committed; requests within a batch run concurrently. The same journal gives the
same parents and operations, so a resumed run asks exactly what an uninterrupted one asks.

The prompts are worded by the language plugin (``Language.wordings["evol-instruct"]``, an
:class:`EvolWording`); a language without one gets the English wording, asked to write in the
language. The wording is ours; the operations and rules are the paper's.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import pydantic
from pydantic import Field

from factory.contracts import Options
from factory.hookspecs import hookimpl
from factory.methods import BatchResult, Method, MethodContext, MethodEstimate, item_id
from factory.records import Record
from factory.teachers import TeacherRequest

IN_DEPTH = ("add_constraints", "deepen", "concretize", "more_reasoning", "complicate_input")
IN_BREADTH = ("mutate",)
OPERATIONS = IN_DEPTH + IN_BREADTH
#: WizardLM's rule 2: a refusal is only an elimination in a short answer
REFUSAL_MAX_WORDS = 80


@dataclass(frozen=True)
class EvolWording:
    """The evolving prompts in one language (``{rule}``, ``{prompt}`` and ``{language}`` are filled in)."""

    in_depth: str
    in_breadth: str
    rules: dict[str, str]  # in-depth operation -> the rule the in_depth prompt states
    same_task: str  # rule 1's question ({first}, {second}); the reply is JSON {"same": true|false}
    refusal_words: tuple[str, ...]  # rule 2
    stop_words: tuple[str, ...]  # rule 3 (lowercase tokens of the language plugin)
    copy_markers: tuple[str, ...]  # rule 4: phrases of the evolving prompt an evolved instruction must not hold
    labels: tuple[str, ...] = field(default=())  # label lines the teacher may repeat before its answer


ENGLISH_EVOL = EvolWording(
    in_depth=(
        "You make tasks for training an AI assistant harder. Rewrite the task below into a more demanding "
        "version that a person can understand and a capable assistant can still answer. Keep any table, code "
        "or other input the task contains. Make it harder this way: {rule} Add only 10 to 20 words. Write the "
        "new task in {language}, and write only the new task: do not mention the original, this rewriting, or "
        "these rules.\n\nTask:\n{prompt}\n\nHarder task:\n"
    ),
    in_breadth=(
        "You collect tasks for training an AI assistant. Write one new task inspired by the task below: in the "
        "same domain, but on a less common topic, about as long and as hard. It must be sensible, "
        "understandable by a person and answerable by an assistant. Write it in {language}, and write only the "
        "new task: do not mention the original or these rules.\n\nTask:\n{prompt}\n\nNew task:\n"
    ),
    rules={
        "add_constraints": "add one more constraint or requirement that the answer must meet.",
        "deepen": "where the task asks about something, ask about it in more depth and breadth.",
        "concretize": "replace a general idea in the task with a more specific one.",
        "more_reasoning": "if a few simple steps solve the task, make it ask explicitly for reasoning over "
                          "several steps.",
        "complicate_input": "give the task a concrete input to work on, written out in full: a small table, a "
                            "code snippet, a formula or a short list of data.",
    },
    same_task=(
        "Do these two tasks ask for the same thing, with the same constraints and requirements and the same "
        "depth and breadth?\n\nFirst task:\n{first}\n\nSecond task:\n{second}\n\n"
        'Reply with JSON only: {{"same": true}} or {{"same": false}}'
    ),
    refusal_words=("sorry", "i cannot", "i can't", "as an ai", "i am unable", "i'm unable"),
    stop_words=tuple("a an the and or but if of to in on at by for with as is are was were be been it this that "
                     "these those i you he she we they me my your not no yes do does did so".split()),
    copy_markers=("harder task", "new task:", "original task", "rewritten task", "rewritten prompt", "given prompt",
                  "#rewritten prompt#", "#given prompt#"),
    labels=("Harder task:", "New task:", "Task:"),
)


class SameTask(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    same: bool


class EvolInstructOptions(Options):
    operations: list[str] = Field(default_factory=lambda: list(OPERATIONS), min_length=1,
                                  description="Operations drawn from, each as likely: " + ", ".join(OPERATIONS) + ".")
    max_generations: int = Field(4, ge=1, le=20, description="Evolve a line at most this many times (WizardLM: 4).")
    check_equality: bool = Field(True, description="Rule 1: ask the teacher whether the evolved instruction asks the "
                                 "same as the original (one more request per evolution).")
    temperature: float = Field(1.0, ge=0, le=2, description="Sampling temperature of evolutions (WizardLM: 1.0).")
    answer_temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature of answers.")
    evolve_max_tokens: int = Field(512, ge=16, description="Tokens an evolved instruction may take.")
    answer_max_tokens: int = Field(2048, ge=16, description="Tokens an answer may take.")
    max_stalled_batches: int = Field(25, ge=1, description="Stop when this many batches in a row keep nothing.")

    @pydantic.field_validator("operations")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in OPERATIONS]
        if unknown:
            raise ValueError(f"unknown operation(s) {', '.join(unknown)} (known: {', '.join(OPERATIONS)})")
        return value


def prompt_text(record: Record) -> str:
    """An instruction as one evolvable text (Alpaca's input folded in, as WizardLM's prompts hold it)."""
    return f"{record.instruction.strip()}\n\n{record.input.strip()}" if record.input.strip() else record.instruction.strip()


def generation_of(record: Record) -> int:
    evol = record.meta.get("evol")
    return int(evol.get("generation", 0)) if isinstance(evol, dict) else 0


def root_of(record: Record) -> str:
    evol = record.meta.get("evol")
    return str(evol.get("root", record.id)) if isinstance(evol, dict) else record.id


@dataclass
class _Item:
    index: int
    parent: Record
    operation: str
    evolved: str = ""


class EvolInstruct(Method):
    """In-depth and in-breadth evolution of the pool with WizardLM's elimination rules."""

    options_model: ClassVar[type[Options]] = EvolInstructOptions
    lookahead: ClassVar[int | None] = 0  # reads the journal: see the module docstring
    reasons: ClassVar[dict[str, str]] = {
        "bad_format": "the evolved instruction is empty",
        "truncated": "the evolved instruction or its answer stopped on length",
        "evol_no_gain": "the evolved instruction asks the same as the original (WizardLM rule 1)",
        "evol_refusal": "the answer to the evolved instruction is a short refusal (WizardLM rule 2)",
        "evol_empty_response": "the answer holds only punctuation and stop words (WizardLM rule 3)",
        "evol_copied_prompt": "the evolved instruction copies words of the evolving prompt (WizardLM rule 4)",
    }

    # -- wording ---------------------------------------------------------------------
    @staticmethod
    def wording(language: Any) -> EvolWording:
        return language.wording("evol-instruct", ENGLISH_EVOL)

    def evolve_prompt(self, parent: Record, operation: str, language: Any) -> str:
        w = self.wording(language)
        template = w.in_breadth if operation in IN_BREADTH else w.in_depth
        return template.format(rule=w.rules.get(operation, ""), prompt=prompt_text(parent), language=language.name)

    # -- the queue -----------------------------------------------------------------------
    def pool(self, ctx: MethodContext) -> list[Record]:
        """Seeds, then kept records in journal order; lines at ``max_generations`` are not evolved further."""
        return [r for r in [*ctx.seeds, *ctx.accepted] if generation_of(r) < self.options.max_generations]

    def items(self, ctx: MethodContext, batch_no: int) -> list[_Item]:
        pool = self.pool(ctx)
        if not pool:
            return []
        chosen = []
        for index in range(ctx.batch_size):
            parent = pool[(batch_no * ctx.batch_size + index) % len(pool)]
            operation = ctx.rng(batch_no, index, "evol").choice(self.options.operations)
            chosen.append(_Item(index, parent, operation))
        return chosen

    def prepare(self, ctx: MethodContext) -> None:
        from factory.errors import UserError

        if not ctx.seeds:
            raise UserError("evol-instruct needs seed instructions to evolve (method.seeds)")

    # -- one batch ---------------------------------------------------------------------
    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        from factory.teaching import TeacherRequestFailed

        o = self.options
        wording = self.wording(ctx.language)
        items = self.items(ctx, batch_no)
        result = BatchResult()
        requests = [TeacherRequest(messages=(("user", self.evolve_prompt(i.parent, i.operation, ctx.language)),),
                                   max_tokens=o.evolve_max_tokens, temperature=o.temperature,
                                   sample=f"evol:{batch_no}:{i.index}") for i in items]
        survivors: list[_Item] = []
        for item, reply in zip(items, await ctx.teacher.complete_many(requests)):
            record_id = item_id(batch_no, item.index)
            if isinstance(reply, TeacherRequestFailed):
                result.failed.append((Record.from_alpaca("", id=record_id), "teacher_failed", str(reply)[:300]))
                continue
            item.evolved = self.clean(reply.text, wording)
            failed = Record.from_alpaca(item.evolved or reply.text.strip()[:500], id=record_id,
                                        meta=self.meta(item))
            if reply.finish_reason == "length":
                result.rejected.append((failed, "truncated", "the evolved instruction stopped on length"))
            elif not item.evolved:
                result.rejected.append((failed, "bad_format", "empty evolved instruction"))
            elif self.copies_prompt(item.evolved, wording):
                result.rejected.append((failed, "evol_copied_prompt", self.copies_prompt(item.evolved, wording)))
            else:
                survivors.append(item)
        answers, same = await asyncio.gather(self.answers(ctx, survivors, batch_no), self.sameness(ctx, survivors))
        for item, answer, equal in zip(survivors, answers, same):
            record_id = item_id(batch_no, item.index)
            record = Record.from_alpaca(item.evolved, "", "", id=record_id, meta=self.meta(item))
            if isinstance(answer, TeacherRequestFailed) or isinstance(equal, TeacherRequestFailed):
                failure = answer if isinstance(answer, TeacherRequestFailed) else equal
                result.failed.append((record, "teacher_failed", str(failure)[:300]))
                continue
            if equal is True:
                result.rejected.append((record, "evol_no_gain", f"asks the same as {item.parent.id}"))
                continue
            if answer.finish_reason == "length":
                result.rejected.append((record, "truncated", "the answer stopped on length"))
                continue
            text = answer.text.strip()
            record.output = text
            reason = self.eliminated_answer(text, ctx.language, wording)
            if reason:
                result.rejected.append((record, reason, text[:120]))
            else:
                result.records.append(record)
        return result

    async def answers(self, ctx: MethodContext, items: Sequence[_Item], batch_no: int) -> list[Any]:
        requests = [TeacherRequest(messages=(("user", i.evolved),), max_tokens=self.options.answer_max_tokens,
                                   temperature=self.options.answer_temperature, sample=f"answer:{batch_no}:{i.index}")
                    for i in items]
        return await ctx.teacher.complete_many(requests) if requests else []

    async def sameness(self, ctx: MethodContext, items: Sequence[_Item]) -> list[Any]:
        """Rule 1 per item: True (same task), False, or a TeacherRequestFailed; an unreadable reply counts as
        not the same (the evolution is kept: rules 2-4 and the filters still judge it)."""
        if not self.options.check_equality:
            return [False] * len(items)
        from factory.structured import complete_structured
        from factory.teaching import TeacherRequestFailed

        wording = self.wording(ctx.language)

        async def one(item: _Item) -> Any:
            question = wording.same_task.format(first=prompt_text(item.parent), second=item.evolved)
            request = TeacherRequest(messages=(("user", question),), max_tokens=16, temperature=0.0)
            try:
                found = await complete_structured(ctx.teacher, request, SameTask, attempts=2)
            except TeacherRequestFailed as exc:
                return exc
            return bool(found.value.same) if found.value is not None else False

        return list(await asyncio.gather(*(one(i) for i in items)))

    # -- the elimination rules ------------------------------------------------------------
    @staticmethod
    def clean(text: str, wording: EvolWording) -> str:
        """The evolved instruction without a label the teacher repeated or quotes around it."""
        body = text.strip()
        for label in wording.labels:
            if body.lower().startswith(label.lower()):
                body = body[len(label):].strip()
        if len(body) > 1 and body[0] == body[-1] and body[0] in "\"'“”":
            body = body[1:-1].strip()
        return body

    @staticmethod
    def copies_prompt(instruction: str, wording: EvolWording) -> str:
        lowered = instruction.lower()
        return next((marker for marker in wording.copy_markers if marker.lower() in lowered), "")

    @staticmethod
    def eliminated_answer(answer: str, language: Any, wording: EvolWording) -> str | None:
        lowered = answer.lower()
        if language.count_words(answer) < REFUSAL_MAX_WORDS and any(w in lowered for w in wording.refusal_words):
            return "evol_refusal"
        content = [t for t in language.tokenize(answer) if any(ch.isalnum() for ch in t)
                   and t.lower() not in wording.stop_words]
        return None if content else "evol_empty_response"

    @staticmethod
    def meta(item: _Item) -> dict[str, Any]:
        return {"evol": {"generation": generation_of(item.parent) + 1, "operation": item.operation,
                         "kind": "in-breadth" if item.operation in IN_BREADTH else "in-depth",
                         "parent": item.parent.id, "root": root_of(item.parent)}}

    # -- what the engine asks ---------------------------------------------------------------
    def max_stalled_batches(self) -> int | None:
        return self.options.max_stalled_batches

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        w = self.wording(ctx.language)
        text = "\x1f".join([w.in_depth, w.in_breadth, *sorted(w.rules.values()), w.same_task])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        from factory.teaching import estimate_prompt_tokens

        o = self.options
        evolutions = math.ceil(remaining / max(keep_rate, 1e-6)) if remaining else 0
        per_item = 2 + (1 if o.check_equality else 0)
        sample = self.items(ctx, 0)[:8]
        prompt = sum(estimate_prompt_tokens(TeacherRequest(prompt=self.evolve_prompt(i.parent, i.operation,
                                                                                      ctx.language)))
                     for i in sample) / max(1, len(sample))
        typical = evolutions * (o.evolve_max_tokens / 4 + o.answer_max_tokens / 4 + (4 if o.check_equality else 0))
        most = evolutions * (o.evolve_max_tokens + o.answer_max_tokens + (16 if o.check_equality else 0))
        prompt_total = evolutions * (prompt * (2 if o.check_equality else 1) + o.evolve_max_tokens / 4)
        return MethodEstimate(evolutions * per_item, prompt_total, typical, most,
                              [("requests per evolution", f"{per_item} (evolve, answer"
                                + (", equality check)" if o.check_equality else ")"))])


@hookimpl
def register_methods(register):
    register("evol-instruct", EvolInstruct)
