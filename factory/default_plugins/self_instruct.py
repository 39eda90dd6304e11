"""The self-instruct method (Alpaca variant), for any language plugin.

Each request shows ``num_prompt_instructions`` seed tasks as numbered,
``###``-separated demonstrations worded by the language plugin, then asks the
teacher to continue the numbering up to ``num_tasks``. The response is parsed
back into records; the filter stage then judges them.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import ClassVar, Sequence

from pydantic import Field

from factory.contracts import Options
from factory.default_plugins.self_instruct_parser import parse_records
from factory.hookspecs import hookimpl
from factory.languages import Language, PromptWording
from factory.methods import BatchResult, MethodContext, MethodEstimate, PromptMethod, item_id, seeded_rng
from factory.records import Record
from factory.teachers import Completion, TeacherRequest

#: rough completion tokens of one generated task (instruction, input and output)
TOKENS_PER_TASK = 80


class SelfInstructOptions(Options):
    num_prompt_instructions: int = Field(3, ge=1, le=10, description="Seed demonstrations per request (Alpaca: 3).")
    num_tasks: int = Field(20, ge=2, le=50, description="Tasks the prompt numbers up to; generation stops before this number (Alpaca: 20).")
    temperature: float = Field(1.0, ge=0, le=2, description="Sampling temperature (Alpaca: 1.0).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling (Alpaca: 1.0).")
    max_tokens: int = Field(3072, ge=16, description="Tokens the teacher may generate per request (Alpaca: 3072).")
    max_stalled_batches: int = Field(25, ge=1, description="Stop when this many batches in a row keep nothing (the teacher only repeats itself).")
    header: str | None = Field(None, description="Replace the language plugin's prompt header with your own text "
                               "({count} becomes the number of new tasks asked for).")


class SelfInstruct(PromptMethod):
    """Alpaca's self-instruct: seed demonstrations in, numbered new tasks out; stateless apart from its options."""

    options_model: ClassVar[type[Options]] = SelfInstructOptions
    reasons: ClassVar[dict[str, str]] = {
        "bad_format": "the teacher's text could not be parsed into instruction/input/output",
        "truncated": "the response stopped on length; its last task is incomplete",
    }

    # -- the method contract ---------------------------------------------------------------
    def first_number(self, ctx: MethodContext) -> int:
        """Tasks in a reply are numbered after the demonstrations the prompt showed."""
        return min(self.options.num_prompt_instructions, len(ctx.seeds)) + 1

    def requests(self, ctx: MethodContext, batch_no: int) -> list[TeacherRequest]:
        return self.requests_for_batch(batch_no, ctx.batch_size, ctx.seeds, ctx.language, ctx.recipe_seed)

    def parse(self, ctx: MethodContext, completion: Completion, batch_no: int, index: int) -> BatchResult:
        records, rejected = self.parse_text(completion, ctx.language.prompt, self.first_number(ctx),
                                            item_id(batch_no, index))
        shown = [demo.id for demo in self.demonstrations(ctx.seeds, ctx.recipe_seed, batch_no, index)]
        for record in records:  # the copied_demonstration filter compares outputs with what the prompt showed
            record.meta["demonstrations"] = shown
        return BatchResult(records, rejected)

    def max_stalled_batches(self) -> int | None:
        return self.options.max_stalled_batches

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        wording = ctx.language.prompt
        header = self.options.header if self.options.header is not None else wording.header
        text = "\x1f".join([header, wording.instruction_label, wording.input_label, wording.output_label, wording.noinput])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        from factory.teaching import estimate_prompt_tokens

        o = self.options
        tasks_per_request = max(1, o.num_tasks - self.first_number(ctx))
        requests = math.ceil(remaining / (tasks_per_request * keep_rate)) if remaining else 0
        sample = self.requests_for_batch(0, min(8, max(1, ctx.batch_size)), ctx.seeds, ctx.language, ctx.recipe_seed)
        per_prompt = sum(estimate_prompt_tokens(r) for r in sample) / len(sample)
        typical = min(o.max_tokens, tasks_per_request * TOKENS_PER_TASK)
        return MethodEstimate(requests, requests * per_prompt, requests * typical, requests * o.max_tokens,
                              [("tasks per request", f"up to {tasks_per_request}")])

    # -- prompts -----------------------------------------------------------
    def build_prompt(self, demonstrations: Sequence[Record], wording: PromptWording) -> str:
        header = self.options.header if self.options.header is not None else wording.header
        count = max(1, self.options.num_tasks - 1 - len(demonstrations))  # tasks numbered after the demos, before the stop
        parts = [header.replace("{count}", str(count)).rstrip("\n") + "\n"]
        for number, demo in enumerate(demonstrations, start=1):
            instruction = re.sub(r"\s+", " ", demo.instruction).strip().rstrip(":")
            input_text = demo.input if demo.input.strip() else wording.noinput
            parts.append("###\n")
            parts.append(f"{number}. {wording.instruction_label}: {instruction}\n")
            parts.append(f"{number}. {wording.input_label}:\n{input_text}\n")
            parts.append(f"{number}. {wording.output_label}:\n{demo.output}\n")
        parts.append("###\n")
        parts.append(f"{len(demonstrations) + 1}. {wording.instruction_label}:")
        return "".join(parts)

    def requests_for_batch(self, batch_no: int, count: int, seeds: Sequence[Record], language: Language,
                           recipe_seed: int) -> list[TeacherRequest]:
        """The batch's requests; the same recipe seed and batch number give the same prompts."""
        requests = []
        for index in range(count):
            demos = self.demonstrations(seeds, recipe_seed, batch_no, index)
            requests.append(TeacherRequest(
                prompt=self.build_prompt(demos, language.prompt),
                max_tokens=self.options.max_tokens,
                temperature=self.options.temperature,
                top_p=self.options.top_p,
                stop=self.stop_strings(),
                sample=f"{batch_no}:{index}",
            ))
        return requests

    def demonstrations(self, seeds: Sequence[Record], recipe_seed: int, batch_no: int, index: int) -> list[Record]:
        """The seed tasks request ``index`` of batch ``batch_no`` shows (the same on every run)."""
        k = min(self.options.num_prompt_instructions, len(seeds))
        return seeded_rng(recipe_seed, batch_no, index).sample(list(seeds), k)

    def stop_strings(self) -> tuple[str, ...]:
        """Alpaca's stop sequences: the teacher stops before writing task ``num_tasks``."""
        n = self.options.num_tasks
        return (f"\n{n}", f"{n}.", f"{n}. ")

    # -- parsing -------------------------------------------------------------
    def parse_text(self, completion: Completion, wording: PromptWording, first_number: int,
                   id_prefix: str) -> tuple[list[Record], list[tuple[Record, str, str]]]:
        """Split a response into candidate records and format rejections (rules: self_instruct_parser)."""
        return parse_records(completion.text, wording, first_number, id_prefix,
                             finish_reason=completion.finish_reason, stop=self.stop_strings())


@hookimpl
def register_methods(register):
    register("self-instruct", SelfInstruct)
