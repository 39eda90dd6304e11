"""A teacher rates one instruction-following record on a quality rubric (AlpaGasus-style data selection).

Why: AlpaGasus showed that the 9K Alpaca records a strong model rated 4.5 or more out of 5 train a
better model than all 52K. The rubric is worded by the language plugin
(``Language.wordings["judge"]``, a :class:`QualityRubric`), so a Korean record is judged in Korean;
a language without its own wording gets the English one. Replies are JSON (``{"score": 4.5,
"reason": "..."}``) read through :func:`factory.structured.complete_structured`: a reply that does not
match is asked for again, then reported, never guessed at.

This module is the reusable part (a rubric, a request, concurrent scoring through any
``TeacherClient``, so every call is cached, retried and budgeted); the ``judge_score`` filter
(:mod:`factory.default_plugins.judge_filter`) keeps records above a threshold.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Sequence

import pydantic

from factory.errors import StopRun
from factory.records import Record
from factory.teachers import TeacherRequest

#: bump when the English wording changes: part of the judge filter's identity (old cached scores are not reused)
RUBRIC_VERSION = "1"
SCALE = (0.0, 5.0)


@dataclass(frozen=True)
class QualityRubric:
    """How a judge is asked to rate a record, in one language."""

    system: str
    criteria: str  # the scale and what counts, before the record
    instruction_label: str
    input_label: str
    response_label: str
    reply_format: str  # after the record: the JSON wanted


ENGLISH_RUBRIC = QualityRubric(
    system=("You review training data for an instruction-following assistant. You rate how good one response "
            "is for the instruction it answers, strictly and consistently."),
    criteria=(
        "Rate the response below on a scale from 0 to 5.\n"
        "5: correct, complete and helpful; follows every part of the instruction and reads naturally.\n"
        "4: correct and helpful, with a small omission or rough wording.\n"
        "3: partly correct, or follows only part of the instruction; a user would have to fix it.\n"
        "2: mostly wrong, off-topic or unhelpful, with some useful part.\n"
        "1: wrong, or does not answer the instruction at all.\n"
        "0: empty, nonsense, harmful, or written in another language than the instruction.\n"
        "Weigh accuracy first, then helpfulness, then how well the format and constraints of the instruction "
        "are kept. Do not reward length for its own sake."
    ),
    instruction_label="Instruction",
    input_label="Input",
    response_label="Response",
    reply_format='Reply with JSON only, nothing else: {"score": <a number from 0 to 5>, "reason": "<one sentence>"}',
)


class JudgeReply(pydantic.BaseModel):
    """The JSON a judge replies with."""

    model_config = pydantic.ConfigDict(extra="forbid")

    score: float = pydantic.Field(ge=SCALE[0], le=SCALE[1])
    reason: str


@dataclass(frozen=True)
class JudgeScore:
    """One record's score and the judge's reason, or why there is none (``failure``: a reason code)."""

    score: float | None
    reason: str = ""
    failure: str | None = None
    detail: str = ""


def rubric_for(language: Any) -> QualityRubric:
    """The language plugin's rubric, or the English one."""
    wording = getattr(language, "wording", None)
    return wording("judge", ENGLISH_RUBRIC) if callable(wording) else ENGLISH_RUBRIC


def judge_prompt(record: Record, rubric: QualityRubric) -> str:
    parts = [rubric.criteria, "", f"{rubric.instruction_label}:", record.instruction.strip()]
    if record.input.strip():
        parts += ["", f"{rubric.input_label}:", record.input.strip()]
    parts += ["", f"{rubric.response_label}:", record.output.strip(), "", rubric.reply_format]
    return "\n".join(parts)


def judge_request(record: Record, rubric: QualityRubric, *, max_tokens: int = 256,
                  temperature: float = 0.0) -> TeacherRequest:
    """The chat request that asks for one record's score (the same record always asks the same: cached)."""
    return TeacherRequest(messages=(("system", rubric.system), ("user", judge_prompt(record, rubric))),
                          max_tokens=max_tokens, temperature=temperature)


async def score_records(client: Any, records: Sequence[Record], rubric: QualityRubric, *, max_tokens: int = 256,
                        temperature: float = 0.0, attempts: int = 3) -> list[JudgeScore]:
    """A score for every record, concurrently through ``client`` (a TeacherClient: cache, retries, budget).

    A request that fails after its retries gives ``failure="judge_failed"``; replies that never match
    the JSON give ``failure="judge_unparsed"``. A stop (budget, quota) is raised once every request in
    flight has finished, so everything paid for is cached.
    """
    from factory.structured import complete_structured
    from factory.teaching import TeacherRequestFailed

    async def one(record: Record) -> JudgeScore:
        request = judge_request(record, rubric, max_tokens=max_tokens, temperature=temperature)
        try:
            result = await complete_structured(client, request, JudgeReply, attempts=attempts)
        except TeacherRequestFailed as exc:
            return JudgeScore(None, failure="judge_failed", detail=str(exc)[:300])
        if result.value is None:
            return JudgeScore(None, failure="judge_unparsed", detail=str(result.reason)[:300])
        return JudgeScore(float(result.value.score), result.value.reason.strip())

    outcomes = await asyncio.gather(*(one(r) for r in records), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, StopRun):
            raise outcome
        if isinstance(outcome, BaseException):
            raise outcome
    return list(outcomes)  # type: ignore[arg-type]
