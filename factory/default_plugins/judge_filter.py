"""The ``judge_score`` filter: a teacher rates each record; records below the threshold are dropped (AlpaGasus).

::

    filters:
      - judge_score:
          judge: {plugin: openai, model: gpt-4o-mini, concurrency: 16}
          threshold: 4.5

Every score is in ``meta.judge`` (kept and dropped records alike), so ``factory report`` shows the
distribution and a later, stricter selection needs no new request. Judging goes through
``FilterContext.client_for``: the run's response cache (a resumed run pays for nothing twice), its
retries, spend ledger and budget. The rubric is the language plugin's (:mod:`factory.quality_judge`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from pydantic import Field

from factory.contracts import Options, identity_of
from factory.filtering import Filter, FilterContext, Verdict
from factory.hookspecs import hookimpl
from factory.records import Record
from factory.teacher_factory import TeacherField


class JudgeScoreOptions(Options):
    judge: TeacherField = Field(description="The judging teacher: {plugin: openai, model: ..., <teacher options>, "
                                "<core teacher settings such as concurrency, max_attempts, price>}.")
    threshold: float = Field(4.5, ge=0, le=5, description="Keep records scored at least this, on 0-5 (AlpaGasus: 4.5).")
    max_tokens: int = Field(256, ge=16, description="Reply token limit of a judgement.")
    temperature: float = Field(0.0, ge=0, le=2, description="Judge sampling temperature (0: the most repeatable).")
    attempts: int = Field(3, ge=1, le=10, description="Replies asked for before a record whose judgement never "
                          "parses is rejected as judge_unparsed.")
    keep_unjudged: bool = Field(False, description="Keep records the judge could not score (failed or unparsed "
                                "replies) instead of rejecting them.")


class JudgeScore(Filter):
    """A judge's 0-5 score on the language's rubric; keeps records at or above the threshold."""

    options_model: ClassVar[type[Options]] = JudgeScoreOptions
    default_target: ClassVar[str] = "output"
    reasons: ClassVar[dict[str, str]] = {
        "low_judge_score": "the judge scored the record below the threshold",
        "judge_failed": "the judge request failed after all retries",
        "judge_unparsed": "the judge never replied with the score JSON",
    }

    @classmethod
    def identity_for(cls, options: JudgeScoreOptions) -> dict[str, Any]:
        from factory.quality_judge import RUBRIC_VERSION

        return {**identity_of(options), "rubric_version": RUBRIC_VERSION}

    @classmethod
    def requirements_for(cls, options: JudgeScoreOptions) -> list:
        return options.judge.requirements()

    def describe(self) -> dict[str, Any]:
        return {"target": self.target, "judge": self.options.judge.provenance().label,
                "threshold": self.options.threshold}

    def prepare(self, ctx: FilterContext) -> None:
        from factory.quality_judge import rubric_for

        if ctx.client_for is None:
            raise RuntimeError("judge_score needs FilterContext.client_for (a teacher client for the judge)")
        self.ctx = ctx
        self.rubric = rubric_for(ctx.language)
        self.client: Any = None
        self._loop: Any = None

    async def judge_async(self, records: Sequence[Record]) -> list[Verdict | None]:
        from factory.quality_judge import score_records

        import asyncio

        judged = [r for r in records if r.output.strip()]
        loop = asyncio.get_running_loop()
        if judged and (self.client is None or self._loop is not loop):  # a client lives on one event loop
            self.client, self._loop = self.ctx.client_for(self.options.judge), loop
        o = self.options
        scores = iter(await score_records(self.client, judged, self.rubric, max_tokens=o.max_tokens,
                                          temperature=o.temperature, attempts=o.attempts) if judged else [])
        verdicts: list[Verdict | None] = []
        for record in records:
            if not record.output.strip():
                verdicts.append(None)  # nothing to judge: empty_output is the filter for that
                continue
            score = next(scores)
            if score.score is None:
                record.meta["judge"] = {"score": None, "failure": score.failure}
                verdicts.append(None if o.keep_unjudged else (score.failure or "judge_failed", score.detail))
                continue
            record.meta["judge"] = {"score": score.score, "reason": score.reason}
            verdicts.append(None if score.score >= o.threshold else
                            ("low_judge_score", f"score {score.score:g} < {o.threshold:g}: {score.reason[:200]}"))
        return verdicts

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        import asyncio

        return asyncio.run(self.judge_async(records))

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None


@hookimpl
def register_filters(register):
    register("judge_score", JudgeScore)
