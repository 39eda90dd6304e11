"""The ``pairwise-judge`` method: which of two answers is better, asked in both orders to cancel position bias.

For each prompt two answers are compared: the prompt's own ``chosen``/``rejected`` when it has them (re-judging
an existing preference file), otherwise two sampled answers (answer 0 from the recipe's teacher, answer 1 from
``teachers[0]`` when given, else a second sample of the recipe's teacher). The judge sees them as answer A and
answer B, then again with the order swapped, and replies JSON ``{winner: "A"|"B"|"tie", reason}`` each time.

- both orders pick the same answer: a pair, that answer chosen;
- both orders say tie: ``pairwise_tie``;
- the orders disagree (each picks the answer in one position, or one says tie): ``position_inconsistent``,
  the two judgements recorded in ``meta.preference.judgements``.

Every judgement records the position that won (``first``, ``second`` or ``tie``), so the run's stats give the
judge's position bias (the share of decided judgements won by the first-shown answer) and how often its two
orders agreed (:func:`factory.preferences.position_bias`). The prompt is worded by the language plugin
(``Language.wordings["pairwise-judge"]``, a :class:`PairwiseWording`); the wording is ours.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pydantic
from pydantic import Field

from factory.contracts import Options, path_option
from factory.hookspecs import hookimpl
from factory.methods import BatchResult, MethodContext, MethodEstimate, item_id
from factory.preference_method import PreferenceMethod
from factory.records import Record
from factory.teacher_factory import TeacherField
from factory.teachers import TeacherRequest

#: bump when the English wording changes (part of the method's identity)
WORDING_VERSION = "1"


@dataclass(frozen=True)
class PairwiseWording:
    """The comparison prompt in one language (``{prompt}``, ``{first}``, ``{second}`` are filled in)."""

    system: str
    template: str


ENGLISH_PAIRWISE = PairwiseWording(
    system=("You compare two responses of an AI assistant to the same request, fairly: the order in which they "
            "are shown and their length must not sway you."),
    template=(
        "Which response serves the request better? Weigh accuracy first, then helpfulness, then how well the "
        "response keeps the request's format and constraints. Say tie only when neither is better.\n\n"
        "Request:\n{prompt}\n\nResponse A:\n{first}\n\nResponse B:\n{second}\n\n"
        'Reply with JSON only, nothing else: {{"winner": "A" or "B" or "tie", "reason": "<one sentence>"}}'
    ),
)


class PairwiseReply(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    winner: Literal["A", "B", "tie"]
    reason: str


class PairwiseJudgeOptions(Options):
    prompts: str | None = path_option(None, runtime_only=True, description="Prompts (or pairs to re-judge: rows with chosen and "
                                      "rejected) in any source format, or a generated run folder; default: the seed "
                                      "tasks.")
    prompts_format: str = Field("auto", description="How the prompts file is read (as source.format).")
    teachers: list[TeacherField] = Field(default_factory=list, max_length=1, description="A second answering "
                                         "teacher for answer B; default: a second sample of the recipe's teacher.")
    judge: TeacherField | None = Field(None, description="The judging teacher; default: the recipe's teacher.")
    temperature: float = Field(0.8, ge=0, le=2, description="Sampling temperature of answers.")
    max_tokens: int = Field(1024, ge=16, description="Tokens an answer may take (cut answers are left out).")
    judge_max_tokens: int = Field(256, ge=16, description="Tokens a judgement may take.")
    judge_attempts: int = Field(3, ge=1, le=10, description="Judge replies asked for before a comparison that "
                                "never parses is rejected (judge_unparsed).")


def wording_for(language: Any) -> PairwiseWording:
    return language.wording("pairwise-judge", ENGLISH_PAIRWISE)


def prompt_text(record: Record) -> str:
    """The request as the judge reads it: a single user turn as is, a conversation with its speakers."""
    if len(record.messages) == 1:
        return record.messages[0]["content"].strip()
    return "\n".join(f"{m['role']}: {m['content'].strip()}" for m in record.messages)


class PairwiseJudge(PreferenceMethod):
    """A/B comparison in both orders; consistent verdicts become pairs, the rest are dropped with a reason."""

    options_model: ClassVar[type[Options]] = PairwiseJudgeOptions
    reasons: ClassVar[dict[str, str]] = {
        "pairwise_tie": "the judge found neither answer better, in both orders",
        "position_inconsistent": "the two orders of the comparison chose different answers (position bias)",
        "too_few_answers": "fewer than two answers to compare (cut or empty)",
        "same_answer": "the two answers are the same text",
        "judge_unparsed": "the judge never replied with the comparison JSON",
    }
    wording_identity: ClassVar[dict[str, str]] = {"wording_version": WORDING_VERSION}

    @classmethod
    def answerer_roles(cls, options: Any) -> dict[str, Any]:
        return {"answerer B": spec for spec in options.teachers}

    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        from factory.preferences import Answer, Clients, batch_slice, sample_answers

        o = self.options
        prompts = batch_slice(self.prompts_for(ctx), batch_no, ctx.batch_size)
        clients = Clients(ctx, o.teachers, o.judge)
        try:
            given = [(p, r) for p, r in prompts if r.chosen is not None and r.rejected is not None]
            to_sample = [(p, r) for p, r in prompts if r.chosen is None or r.rejected is None]
            answers, failed = await sample_answers(clients, to_sample, 2, max_tokens=o.max_tokens,
                                                   temperature=o.temperature)
            for position, record in given:
                answers[position] = [Answer(record.chosen.strip(), "given chosen", 0),
                                     Answer(record.rejected.strip(), "given rejected", 1)]
            result = BatchResult(failed=failed)
            wording = wording_for(ctx.language)
            outcomes = await asyncio.gather(*(
                self._compare(clients, wording, prompt, answers[position],
                              item_id(batch_no, position - batch_no * ctx.batch_size))
                for position, prompt in prompts))
            for outcome in outcomes:
                result.extend(outcome)
            return result
        finally:
            await clients.aclose()

    def request(self, wording: PairwiseWording, prompt: Record, first: str, second: str) -> TeacherRequest:
        text = wording.template.format(prompt=prompt_text(prompt), first=first, second=second)
        return TeacherRequest(messages=(("system", wording.system), ("user", text)),
                              max_tokens=self.options.judge_max_tokens, temperature=0.0)

    async def _compare(self, clients: Any, wording: PairwiseWording, prompt: Record, answers: list,
                       record_id: str) -> BatchResult:
        from factory.preferences import dropped_record, pair_record
        from factory.structured import complete_structured
        from factory.teaching import TeacherRequestFailed

        result = BatchResult()
        meta: dict[str, Any] = {"method": "pairwise-judge", "judge": clients.judge_label,
                                "answers": [{"teacher": a.teacher, "k": a.k} for a in answers]}
        if len(answers) < 2:
            result.rejected.append((dropped_record(prompt, meta, record_id), "too_few_answers",
                                    f"{len(answers)} usable answer(s)"))
            return result
        x, y = answers[0], answers[1]
        if x.text == y.text:
            result.rejected.append((dropped_record(prompt, meta, record_id, x.text), "same_answer", x.text[:120]))
            return result
        orders = (("xy", x, y), ("yx", y, x))
        try:
            replies = await asyncio.gather(*(complete_structured(clients.judge, self.request(wording, prompt, a.text,
                                                                                             b.text),
                                                                 PairwiseReply, attempts=self.options.judge_attempts)
                                             for _, a, b in orders))
        except TeacherRequestFailed as exc:
            result.failed.append((dropped_record(prompt, meta, record_id), "teacher_failed", str(exc)[:300]))
            return result
        judgements = []
        for (order, a, b), reply in zip(orders, replies):
            if reply.value is None:
                meta["judgements"] = judgements
                result.rejected.append((dropped_record(prompt, meta, record_id), "judge_unparsed",
                                        str(reply.reason)[:300]))
                return result
            winner = reply.value.winner
            picked = {"A": a, "B": b}.get(winner)
            judgements.append({"order": order, "winner": "tie" if picked is None else f"answer {picked.k}",
                               "position": {"A": "first", "B": "second"}.get(winner, "tie"),
                               "reason": reply.value.reason.strip()[:300]})
        meta["judgements"] = judgements
        first, second = judgements[0]["winner"], judgements[1]["winner"]
        if first == second == "tie":
            result.rejected.append((dropped_record(prompt, meta, record_id), "pairwise_tie", "tie in both orders"))
        elif first != second:
            result.rejected.append((dropped_record(prompt, meta, record_id), "position_inconsistent",
                                    f"answer {x.k} shown first: {first} won; answer {y.k} shown first: {second} won"))
        else:
            chosen, rejected = (x, y) if first == f"answer {x.k}" else (y, x)
            meta.update(margin=1.0, chosen={"teacher": chosen.teacher, "k": chosen.k},
                        rejected={"teacher": rejected.teacher, "k": rejected.k})
            result.records.append(pair_record(prompt, chosen.text, rejected.text, 1.0, meta, record_id))
        return result

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        w = wording_for(ctx.language)
        return hashlib.sha256("\x1f".join(["pairwise-judge", w.system, w.template]).encode("utf-8")).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        o = self.options
        prompts = self.prompts_needed(ctx, remaining, keep_rate)
        judge = MethodEstimate(prompts * 2, prompts * 2 * (300 + o.max_tokens / 2), prompts * 2 * 40,
                               prompts * 2 * o.judge_max_tokens)
        return MethodEstimate(prompts * 4, prompts * (2 * 60 + 2 * (300 + o.max_tokens / 2)),
                              prompts * (2 * o.max_tokens / 4 + 2 * 40), prompts * (2 * o.max_tokens + 2 * o.judge_max_tokens),
                              [("requests per prompt", "4 (2 answers, 2 judgements: both orders)")],
                              by_role={"judge": judge} if o.judge is not None else {})


@hookimpl
def register_methods(register):
    register("pairwise-judge", PairwiseJudge)
