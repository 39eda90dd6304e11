"""The ``ai-feedback`` method (UltraFeedback-style): sample several answers, let a judge score each, keep best
vs worst.

For each prompt (``prompts``: a file in any source format or a generated run folder; otherwise the seed
tasks), ``answers`` replies are sampled, the k-th from answerer ``k % len(answerers)`` (the recipe's teacher,
then ``teachers``). The judge (``judge``, or the recipe's teacher) scores each reply 0-5 on the language
plugin's rubric (:mod:`factory.quality_judge`, the wording the ``judge_score`` filter uses), replying JSON
``{score, reason}``: the schema is sent as a structured output where the server supports it, the reply is read
tolerantly otherwise, and a reply that never validates is asked again (``judge_attempts``) then rejected with
``judge_unparsed``. The best and the worst scored replies make a pair when their margin is at least
``margin``; equal scores are a ``preference_tie``, a smaller margin ``low_margin``.

Batches walk the prompts in order (``batch_size`` prompts each), every request is fixed by the prompt and the
sample number, so a resumed run asks exactly what an uninterrupted one asks and the cache answers it.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from pydantic import Field

from factory.contracts import Options, path_option
from factory.hookspecs import hookimpl
from factory.methods import BatchResult, MethodContext, MethodEstimate, item_id
from factory.preference_method import PreferenceMethod
from factory.quality_judge import RUBRIC_VERSION
from factory.records import Record
from factory.teacher_factory import TeacherField


class AIFeedbackOptions(Options):
    prompts: str | None = path_option(None, runtime_only=True, description="Prompts to answer: a file in any source format (see "
                                      "prompts_format) or a generated run folder; default: the seed tasks.")
    prompts_format: str = Field("auto", description="How the prompts file is read (as source.format).")
    answers: int = Field(4, ge=2, le=16, description="Answers sampled per prompt (UltraFeedback: 4).")
    teachers: list[TeacherField] = Field(default_factory=list, description="More answering teachers; answer k comes "
                                         "from teacher k mod (1 + len(teachers)), the recipe's teacher first.")
    judge: TeacherField | None = Field(None, description="The judging teacher; default: the recipe's teacher.")
    margin: float = Field(1.0, gt=0, le=5, description="Keep best vs worst when their scores differ by at least this.")
    temperature: float = Field(0.8, ge=0, le=2, description="Sampling temperature of answers.")
    max_tokens: int = Field(1024, ge=16, description="Tokens an answer may take (cut answers are left out).")
    judge_max_tokens: int = Field(256, ge=16, description="Tokens a judgement may take.")
    judge_attempts: int = Field(3, ge=1, le=10, description="Judge replies asked for before an answer whose "
                                "judgement never parses is rejected (judge_unparsed).")


class AIFeedback(PreferenceMethod):
    """N answers, a 0-5 judge score each, best vs worst when the margin clears the threshold."""

    options_model: ClassVar[type[Options]] = AIFeedbackOptions
    reasons: ClassVar[dict[str, str]] = {
        "preference_tie": "the best and the worst answer got the same score",
        "low_margin": "the best and the worst answer differ by less than the margin",
        "too_few_answers": "fewer than two answers were scored (cut, empty or unjudged)",
        "judge_unparsed": "the judge never replied with the score JSON for this answer",
    }
    wording_identity: ClassVar[dict[str, str]] = {"rubric_version": RUBRIC_VERSION}

    @classmethod
    def answerer_roles(cls, options: Any) -> dict[str, Any]:
        return {f"answerer {i + 2}": spec for i, spec in enumerate(options.teachers)}

    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        from factory.preferences import Clients, batch_slice, sample_answers

        o = self.options
        prompts = batch_slice(self.prompts_for(ctx), batch_no, ctx.batch_size)
        clients = Clients(ctx, o.teachers, o.judge)
        try:
            answers, failed = await sample_answers(clients, prompts, o.answers, max_tokens=o.max_tokens,
                                                   temperature=o.temperature)
            result = BatchResult(failed=failed)
            for (position, prompt), scores in zip(prompts, await self._score(ctx, clients, prompts, answers)):
                result.extend(self._decide(prompt, answers[position], scores, clients.judge_label,
                                           item_id(batch_no, position - batch_no * ctx.batch_size)))
            return result
        finally:
            await clients.aclose()

    async def _score(self, ctx: MethodContext, clients: Any, prompts: list, answers: dict) -> list[list[Any]]:
        from factory.quality_judge import rubric_for, score_records

        rubric = rubric_for(ctx.language)
        flat = [(position, Record([dict(m) for m in prompt.messages] + [{"role": "assistant", "content": a.text}]))
                for position, prompt in prompts for a in answers[position]]
        scores = await score_records(clients.judge, [r for _, r in flat], rubric, max_tokens=self.options.judge_max_tokens,
                                     attempts=self.options.judge_attempts) if flat else []
        grouped: dict[int, list[Any]] = {position: [] for position, _ in prompts}
        for (position, _), score in zip(flat, scores):
            grouped[position].append(score)
        return [grouped[position] for position, _ in prompts]

    def _decide(self, prompt: Record, answers: list, scores: list, judge: str, record_id: str) -> BatchResult:
        from factory.preferences import dropped_record, pair_record

        result = BatchResult()
        judged = []
        for answer, score in zip(answers, scores):
            if score.failure == "judge_failed":  # out of retries: the batch is not committed, a rerun retries it
                result.failed.append((dropped_record(prompt, {}, record_id, answer.text), "teacher_failed",
                                      score.detail))
                return result
            if score.score is None:
                meta = {"method": "ai-feedback", "judge": judge, "answers": [{"teacher": answer.teacher, "k": answer.k}]}
                result.rejected.append((dropped_record(prompt, meta, f"{record_id}-a{answer.k}", answer.text),
                                        "judge_unparsed", score.detail))
                continue
            judged.append((answer, score))
        summary = [{"teacher": a.teacher, "k": a.k, "score": s.score, "reason": s.reason[:300]} for a, s in judged]
        meta: dict[str, Any] = {"method": "ai-feedback", "judge": judge, "answers": summary}
        if len(judged) < 2:
            result.rejected.append((dropped_record(prompt, meta, record_id), "too_few_answers",
                                    f"{len(judged)} of {len(answers)} sampled answers scored"))
            return result
        ranked = sorted(judged, key=lambda pair: (-pair[1].score, pair[0].k))
        (best, best_score), (worst, worst_score) = ranked[0], ranked[-1]
        margin = best_score.score - worst_score.score
        meta.update(margin=margin, chosen={"teacher": best.teacher, "k": best.k, "score": best_score.score},
                    rejected={"teacher": worst.teacher, "k": worst.k, "score": worst_score.score})
        if margin == 0:
            result.rejected.append((dropped_record(prompt, meta, record_id), "preference_tie",
                                    f"every answer scored {best_score.score:g}"))
        elif margin < self.options.margin:
            result.rejected.append((dropped_record(prompt, meta, record_id), "low_margin",
                                    f"margin {margin:g} < {self.options.margin:g}"))
        else:
            result.records.append(pair_record(prompt, best.text, worst.text, margin, meta, record_id))
        return result

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        from factory.quality_judge import rubric_for

        rubric = rubric_for(ctx.language)
        text = "\x1f".join(["ai-feedback", rubric.system, rubric.criteria, rubric.reply_format])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        from factory.teaching import estimate_text_tokens

        o = self.options
        prompts = self.prompts_needed(ctx, remaining, keep_rate)
        prompt_tokens = sum(estimate_text_tokens(m["content"]) for p in self.prompts[:8] for m in p.messages)
        per_prompt = prompt_tokens / max(1, min(8, len(self.prompts)))
        requests = prompts * o.answers * 2
        typical = prompts * o.answers * (o.max_tokens / 4 + 40)
        most = prompts * o.answers * (o.max_tokens + o.judge_max_tokens)
        prompt_total = prompts * o.answers * (2 * per_prompt + o.max_tokens / 4 + 250)
        judged = prompts * o.answers
        judge = MethodEstimate(judged, judged * (per_prompt + o.max_tokens / 4 + 250), judged * 40,
                               judged * o.judge_max_tokens)
        return MethodEstimate(requests, prompt_total, typical, most,
                              [("requests per prompt", f"{2 * o.answers} ({o.answers} answers, {o.answers} judgements)")],
                              by_role={"judge": judge} if o.judge is not None else {})


@hookimpl
def register_methods(register):
    register("ai-feedback", AIFeedback)
