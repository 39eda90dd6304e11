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
    header: str | None = Field(None, description="Replace the language plugin's prompt header with your own text.")


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
        parts = [header.rstrip("\n") + "\n"]
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
        k = min(self.options.num_prompt_instructions, len(seeds))
        n = self.options.num_tasks
        for index in range(count):
            rng = seeded_rng(recipe_seed, batch_no, index)
            demos = rng.sample(list(seeds), k)
            requests.append(TeacherRequest(
                prompt=self.build_prompt(demos, language.prompt),
                max_tokens=self.options.max_tokens,
                temperature=self.options.temperature,
                top_p=self.options.top_p,
                stop=(f"\n{n}", f"{n}.", f"{n}. "),
                sample=f"{batch_no}:{index}",
            ))
        return requests

    # -- parsing -------------------------------------------------------------
    def parse_text(self, completion: Completion, wording: PromptWording, first_number: int,
                   id_prefix: str) -> tuple[list[Record], list[tuple[Record, str, str]]]:
        """Split a response into candidate records and format rejections."""
        labels = {
            "instruction": [wording.instruction_label, "Instruction"],
            "input": [wording.input_label, "Input"],
            "output": [wording.output_label, "Output"],
        }
        alternatives = "|".join(re.escape(label) for names in labels.values() for label in dict.fromkeys(names))
        label_re = re.compile(rf"(?:^|\n)\s*(\d+)\s*[.)]\s*({alternatives})\s*[:：]", re.IGNORECASE)
        text = completion.text
        if not re.match(rf"\s*\d+\s*[.)]\s*({alternatives})\s*[:：]", text, re.IGNORECASE):
            text = f"{first_number}. {wording.instruction_label}:" + text
        noinputs = {wording.noinput.lower(), "<noinput>", *[a.lower() for a in wording.noinput_aliases]}
        instruction_labels = {x.lower() for x in labels["instruction"]}
        # tasks are split on "###" and, when a separator is missing, on each new instruction label
        tasks: list[str] = []
        for chunk in re.split(r"\n?\s*###+\s*\n?", text):
            starts = [m.start() for m in label_re.finditer(chunk) if m.group(2).lower() in instruction_labels]
            bounds = [0] + [b for b in starts if b > 0] + [len(chunk)]
            tasks.extend(chunk[a:b] for a, b in zip(bounds, bounds[1:]))
        tasks = [t for t in tasks if t.strip()]
        candidates: list[Record] = []
        rejected: list[tuple[Record, str, str]] = []
        for position, chunk in enumerate(tasks):
            record_id = f"{id_prefix}-{position}"
            if position == len(tasks) - 1 and completion.finish_reason == "length":
                rejected.append((Record.from_alpaca(chunk.strip()[:500], id=record_id), "truncated", "finish_reason=length"))
                continue
            fields: dict[str, str] = {}
            matches = list(label_re.finditer(chunk))
            for i, match in enumerate(matches):
                end = matches[i + 1].start() if i + 1 < len(matches) else len(chunk)
                label = match.group(2).lower()
                name = next(n for n, names in labels.items() if label in (x.lower() for x in names))
                fields.setdefault(name, chunk[match.end():end].strip())
            if "instruction" not in fields or "output" not in fields or not fields["instruction"]:
                rejected.append((Record.from_alpaca(chunk.strip()[:500], id=record_id), "bad_format", "missing labels"))
                continue
            input_text = fields.get("input", "")
            if input_text.strip().lower() in noinputs:
                input_text = ""
            candidates.append(Record.from_alpaca(fields["instruction"], input=input_text, output=fields["output"], id=record_id))
        return candidates, rejected


@hookimpl
def register_methods(register):
    register("self-instruct", SelfInstruct)
