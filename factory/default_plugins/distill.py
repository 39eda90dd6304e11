"""The ``distill`` method (GPT4All, KoAlpaca v1.1): a pool of real prompts, answered by the teacher.

The prompts are the first user turns of the records in ``method.seeds`` (any row format factory reads: a
scraped question list as Alpaca or messages rows, ShareGPT conversations...), walked in order, ``batch_size``
per batch, once each; ``answers`` replies are asked per prompt (GPT4All kept several per prompt and filtered
them). Each answer is judged before the recipe's filters:

- ``empty_answer``: nothing but white space;
- ``refusal``: the answer matches one of the language plugin's refusal patterns
  (``Language.wordings["distill"]``, a :class:`DistillWording`) in its first ``refusal_window`` characters;
- ``answer_too_short`` / ``answer_too_long``: outside ``min_words`` .. ``max_words`` (the language's measure);
- ``truncated``: the answer stopped on length;
- the language of the answer is the ``language_id`` or ``script`` filter's job (``target: output``).

Requests are fixed by the prompt's position and the answer's number (``sample``), so a resumed run asks the
same and the response cache answers what was already paid for.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from factory.contracts import Options
from factory.hookspecs import hookimpl
from factory.methods import BatchResult, Method, MethodContext, MethodEstimate, item_id
from factory.records import Record, message
from factory.teachers import TeacherRequest


@dataclass(frozen=True)
class DistillWording:
    """An optional system prompt (``{language}``) and refusal patterns (regular expressions, case-insensitive)."""

    system: str
    refusal_patterns: tuple[str, ...]


ENGLISH_DISTILL = DistillWording(
    system="You are a helpful assistant. Answer in {language}, accurately and completely.",
    refusal_patterns=(r"\bas an ai\b", r"\bi(?: am|'m) (?:sorry|unable|not able)\b", r"\bi can(?:not|'t) (?:help|"
                      r"assist|provide|answer)\b", r"\bi (?:do not|don't) have (?:personal|the ability)\b"),
)


class DistillOptions(Options):
    answers: int = Field(1, ge=1, le=16, description="Answers asked per prompt (each judged on its own).")
    system_prompt: bool = Field(True, description="Send the language's system prompt before each prompt.")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature of answers.")
    max_tokens: int = Field(1024, ge=16, description="Tokens an answer may take.")
    min_words: int = Field(1, ge=0, description="Reject answers shorter than this (the language's measure).")
    max_words: int | None = Field(None, ge=1, description="Reject answers longer than this.")
    refusal_window: int = Field(300, ge=1, description="Characters at the start of an answer searched for refusals.")


class Distill(Method):
    options_model: ClassVar[type[Options]] = DistillOptions
    reasons: ClassVar[dict[str, str]] = {
        "empty_answer": "the teacher's answer is empty",
        "refusal": "the answer is a refusal (the language plugin's refusal patterns)",
        "answer_too_short": "the answer is shorter than min_words",
        "answer_too_long": "the answer is longer than max_words",
        "truncated": "the answer stopped on length",
    }

    @staticmethod
    def wording(language: Any) -> DistillWording:
        return language.wording("distill", ENGLISH_DISTILL)

    def prepare(self, ctx: MethodContext) -> None:
        from factory.errors import UserError

        if not ctx.seeds:
            raise UserError("distill needs prompts to answer (method.seeds)")

    def batch_count(self, ctx: MethodContext) -> int | None:
        return math.ceil(len(ctx.seeds) / ctx.batch_size)

    def refusal(self, text: str, language: Any) -> str | None:
        head = text[: self.options.refusal_window]
        for pattern in self.wording(language).refusal_patterns:
            found = re.search(pattern, head, re.IGNORECASE)
            if found:
                return found.group(0)
        return None

    def judge(self, text: str, finish_reason: str | None, language: Any) -> tuple[str, str] | None:
        o = self.options
        if not text.strip():
            return "empty_answer", "empty"
        if finish_reason == "length":
            return "truncated", "the answer stopped on length"
        refused = self.refusal(text, language)
        if refused:
            return "refusal", refused
        words = language.count_words(text)
        if words < o.min_words:
            return "answer_too_short", f"{words} words"
        if o.max_words is not None and words > o.max_words:
            return "answer_too_long", f"{words} words"
        return None

    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        from factory.teaching import TeacherRequestFailed

        o = self.options
        w = self.wording(ctx.language)
        start = batch_no * ctx.batch_size
        prompts = ctx.seeds[start:start + ctx.batch_size]
        items, requests = [], []
        for offset, source in enumerate(prompts):
            turns = source.turns("user")
            prompt = (turns[0] if turns else source.instruction).strip()
            system = (("system", w.system.format(language=ctx.language.name)),) if o.system_prompt else ()
            for answer in range(o.answers):
                items.append((offset, answer, source, prompt))
                requests.append(TeacherRequest(messages=(*system, ("user", prompt)), max_tokens=o.max_tokens,
                                               temperature=o.temperature, sample=f"distill:{start + offset}:{answer}"))
        result = BatchResult()
        for (offset, answer, source, prompt), reply in zip(items, await ctx.teacher.complete_many(requests)):
            record_id = item_id(batch_no, offset, answer if o.answers > 1 else None)
            meta = {"distill": {"prompt_id": source.id, "answer": answer}}
            if isinstance(reply, TeacherRequestFailed):
                result.failed.append((Record([message("user", prompt)], id=record_id, meta=meta), "teacher_failed",
                                      str(reply)[:300]))
                continue
            text = reply.text.strip()
            record = Record([message("user", prompt), message("assistant", text)], id=record_id, meta=meta)
            verdict = self.judge(text, reply.finish_reason, ctx.language)
            if verdict:
                result.rejected.append((record, *verdict))
            else:
                result.records.append(record)
        return result

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        w = self.wording(ctx.language)
        return hashlib.sha256("\x1f".join([w.system, *w.refusal_patterns]).encode("utf-8")).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        from factory.teaching import estimate_text_tokens

        o = self.options
        requests = min(len(ctx.seeds) * o.answers, math.ceil(remaining / max(keep_rate, 1e-6)) if remaining else 0)
        sample = ctx.seeds[:50]
        prompt = sum(estimate_text_tokens(r.instruction) for r in sample) / max(1, len(sample)) + 30
        return MethodEstimate(requests, requests * prompt, requests * o.max_tokens / 4, requests * o.max_tokens,
                              [("prompts", f"{len(ctx.seeds)} x {o.answers} answers")])


@hookimpl
def register_methods(register):
    register("distill", Distill)
