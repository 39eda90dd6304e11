"""The ``self-instruct-original`` method: the pipeline of Wang et al. (2022), before Alpaca simplified it.

Three steps per batch, as in the paper:

1. **instruction generation**: each request lists ``num_human`` seed instructions and
   ``num_machine`` instructions kept earlier in this run (numbered ``Task 1:`` ...), and the teacher
   continues the list; up to ``tasks_per_request`` new instructions are read from the reply;
2. **classification task identification**: for each new instruction, a few-shot prompt built from
   seed tasks (which carry ``is_classification``) asks whether it is a classification task with a
   small, fixed set of labels;
3. **instance generation**: classification tasks are generated **output-first** (a class label,
   then an input of that class: the paper found input-first gives inputs biased to one label),
   the others **input-first** (an input, or the no-input marker, then the output); each prompt shows
   seed instances of the same kind.

Records carry ``meta.is_classification``, ``meta.instance_order`` and ``meta.demonstrations`` (the seed
tasks the instance prompt showed, for the ``copied_demonstration`` filter). The recipe's filters then
do the paper's filtering (ROUGE-L < 0.7 against the pool, keywords a text model cannot handle, ...).

**lookahead**: with ``num_machine > 0`` a request shows instructions kept in earlier batches, so the
method reads the journal (``lookahead = 0``: a batch starts after the previous one is committed, its
requests run concurrently); with ``num_machine: 0`` it reads nothing earlier batches wrote
(``lookahead = None``). Either way the same recipe seed, batch number and journal give the same
requests. The prompts are worded by the language plugin (``Language.wordings["self-instruct-original"]``,
an :class:`OriginalWording`), our own wording; the pipeline is the paper's.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from pydantic import Field

from factory.contracts import Options
from factory.hookspecs import hookimpl
from factory.methods import BatchResult, Method, MethodContext, MethodEstimate, item_id
from factory.records import Record
from factory.teachers import TeacherRequest


@dataclass(frozen=True)
class OriginalWording:
    """The three prompts of the original self-instruct in one language."""

    generate_header: str  # before the numbered list ({language} is filled in)
    task_label: str  # "Task" of "Task 3:"
    classify_header: str  # before the few-shot examples of step 2
    classify_question: str  # after each task: "Is it a classification task?"
    yes: tuple[str, ...]
    no: tuple[str, ...]
    output_first_header: str  # step 3, classification tasks
    input_first_header: str  # step 3, other tasks
    class_label: str
    input_label: str
    output_label: str
    noinput: str = "<noinput>"


ENGLISH_ORIGINAL = OriginalWording(
    generate_header=("Here is a list of tasks an AI assistant should be able to do. Continue the list with new tasks "
                     "that differ from the ones above in topic and in kind, written in {language}, one per line."),
    task_label="Task",
    classify_header=("Decide whether each task is a classification task: one whose answer is a label taken from a "
                     "small, fixed set (such as positive or negative, a category, yes or no)."),
    classify_question="Classification task?",
    yes=("yes",),
    no=("no",),
    output_first_header=("Write an example for each classification task: first one of its class labels, then an input "
                         "that belongs to that label."),
    input_first_header=("Write an example for each task: first an input for it (write <noinput> if the task needs "
                        "none), then the correct output."),
    class_label="Class label",
    input_label="Input",
    output_label="Output",
)


class SelfInstructOriginalOptions(Options):
    num_human: int = Field(6, ge=1, le=20, description="Seed instructions shown per generation request (paper: 6).")
    num_machine: int = Field(2, ge=0, le=20, description="Kept instructions of this run shown per request (paper: 2); "
                             "0 makes batches independent of each other.")
    tasks_per_request: int = Field(8, ge=1, le=20, description="New instructions read from one generation reply.")
    classify_examples: int = Field(8, ge=2, le=30, description="Seed tasks shown to the classification question.")
    instance_examples: int = Field(3, ge=1, le=10, description="Seed instances shown to an instance prompt.")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature of generation and instances.")
    max_tokens: int = Field(1024, ge=16, description="Tokens a generation or instance reply may take.")
    max_stalled_batches: int = Field(25, ge=1, description="Stop when this many batches in a row keep nothing.")


@dataclass
class _Task:
    request: int
    position: int
    instruction: str
    is_classification: bool = False


class SelfInstructOriginal(Method):
    """Instruction generation, classification identification, then output-first or input-first instances."""

    options_model: ClassVar[type[Options]] = SelfInstructOriginalOptions
    reasons: ClassVar[dict[str, str]] = {
        "bad_format": "a reply held no new instruction, or an instance without its labels",
        "truncated": "an instance reply stopped on length",
    }

    @property
    def lookahead(self) -> int | None:  # type: ignore[override]
        """0 when requests show kept instructions (the journal is read), None when they show seeds only."""
        return 0 if self.options.num_machine else None

    @staticmethod
    def wording(language: Any) -> OriginalWording:
        return language.wording("self-instruct-original", ENGLISH_ORIGINAL)

    def prepare(self, ctx: MethodContext) -> None:
        from factory.errors import UserError

        if not ctx.seeds:
            raise UserError("self-instruct-original needs seed tasks (method.seeds)")

    # -- step 1 ------------------------------------------------------------------------
    def shown_instructions(self, ctx: MethodContext, batch_no: int, index: int) -> list[str]:
        o = self.options
        rng = ctx.rng(batch_no, index, "generate")
        machine = [r.instruction for r in ctx.accepted]
        picked_machine = rng.sample(machine, min(o.num_machine, len(machine)))
        humans = rng.sample(list(ctx.seeds), min(len(ctx.seeds), o.num_human + o.num_machine - len(picked_machine)))
        shown = [s.instruction.strip() for s in humans] + picked_machine
        rng.shuffle(shown)
        return shown

    def generate_prompt(self, shown: Sequence[str], wording: OriginalWording, language: Any) -> str:
        lines = [wording.generate_header.format(language=language.name), ""]
        lines += [f"{wording.task_label} {n}: {' '.join(text.split())}" for n, text in enumerate(shown, start=1)]
        lines.append(f"{wording.task_label} {len(shown) + 1}:")
        return "\n".join(lines)

    def parse_tasks(self, text: str, first: int, wording: OriginalWording) -> list[str]:
        label = re.escape(wording.task_label)
        body = f"{wording.task_label} {first}:" + text
        pieces = re.split(rf"(?m)^\s*{label}\s*\d+\s*[:：]", body)[1:]
        stops = re.compile(rf"(?m)^\s*(?:{re.escape(wording.input_label)}|{re.escape(wording.output_label)}"
                           rf"|{re.escape(wording.class_label)})\s*[:：]")
        tasks = []
        for piece in pieces:
            cut = stops.search(piece)
            task = re.sub(r"\s+", " ", piece[:cut.start()] if cut else piece).strip()
            if task and task not in tasks:
                tasks.append(task)
        return tasks[: self.options.tasks_per_request]

    # -- step 2 ------------------------------------------------------------------------
    def classify_examples(self, ctx: MethodContext, batch_no: int, index: int) -> list[Record]:
        """Seed tasks for the classification question, half classification where the seeds allow."""
        rng = ctx.rng(batch_no, index, "classify")
        yes = [s for s in ctx.seeds if s.meta.get("is_classification")]
        no = [s for s in ctx.seeds if not s.meta.get("is_classification")]
        k = self.options.classify_examples
        chosen = rng.sample(yes, min(len(yes), k // 2)) + rng.sample(no, min(len(no), k - min(len(yes), k // 2)))
        rng.shuffle(chosen)
        return chosen

    def classify_prompt(self, task: str, examples: Sequence[Record], wording: OriginalWording) -> str:
        lines = [wording.classify_header, ""]
        for example in examples:
            answer = wording.yes[0] if example.meta.get("is_classification") else wording.no[0]
            lines += [f"{wording.task_label}: {example.instruction.strip()}", f"{wording.classify_question} {answer}", ""]
        lines += [f"{wording.task_label}: {task}", f"{wording.classify_question}"]
        return "\n".join(lines)

    @staticmethod
    def is_yes(text: str, wording: OriginalWording) -> bool:
        """The first yes or no word of the reply; a reply with neither counts as no (input-first is the safe path)."""
        words = re.findall(r"[^\W\d_]+", text.lower())
        for word in words[:6]:
            if word in wording.yes:
                return True
            if word in wording.no:
                return False
        return False

    # -- step 3 ------------------------------------------------------------------------
    def instance_examples(self, ctx: MethodContext, task: _Task, batch_no: int) -> list[Record]:
        rng = ctx.rng(batch_no, task.request, f"instances:{task.position}")
        same = [s for s in ctx.seeds if bool(s.meta.get("is_classification")) == task.is_classification] or list(ctx.seeds)
        return rng.sample(same, min(len(same), self.options.instance_examples))

    def instance_prompt(self, task: _Task, examples: Sequence[Record], wording: OriginalWording) -> str:
        header = wording.output_first_header if task.is_classification else wording.input_first_header
        lines = [header, ""]
        for example in examples:
            lines.append(f"{wording.task_label}: {example.instruction.strip()}")
            input_text = example.input.strip() or wording.noinput
            if task.is_classification:
                lines += [f"{wording.class_label}: {example.output.strip()}", f"{wording.input_label}: {input_text}", ""]
            else:
                lines += [f"{wording.input_label}: {input_text}", f"{wording.output_label}: {example.output.strip()}", ""]
        lines.append(f"{wording.task_label}: {task.instruction}")
        lines.append(f"{wording.class_label if task.is_classification else wording.input_label}:")
        return "\n".join(lines)

    def parse_instance(self, text: str, task: _Task, wording: OriginalWording, language: Any) -> tuple[str, str] | None:
        """(input, output) of the first instance in a reply, or None when its labels are missing."""
        first, second = ((wording.class_label, wording.input_label) if task.is_classification
                         else (wording.input_label, wording.output_label))
        body = f"{first}:" + text
        next_task = re.search(rf"(?m)^\s*{re.escape(wording.task_label)}\s*\d*\s*[:：]", body)
        body = body[:next_task.start()] if next_task else body
        match = re.search(rf"(?s)^{re.escape(first)}\s*[:：](.*?)(?:^|\n)\s*{re.escape(second)}\s*[:：](.*)$", body)
        if match is None:
            return None
        head, tail = match.group(1).strip(), match.group(2).strip()
        stop = re.search(rf"(?m)^\s*(?:{re.escape(wording.class_label)}|{re.escape(wording.input_label)})\s*[:：]", tail)
        tail = tail[:stop.start()].strip() if stop else tail
        if task.is_classification:
            label, input_text = head, tail
        else:
            input_text, label = head, tail
        from factory.translation_qa import is_noinput

        input_text = "" if is_noinput(input_text, language.code) or input_text == wording.noinput else input_text
        return (input_text, label) if label else None

    # -- one batch ---------------------------------------------------------------------
    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        from factory.teaching import TeacherRequestFailed

        o = self.options
        wording = self.wording(ctx.language)
        result = BatchResult()
        shown = [self.shown_instructions(ctx, batch_no, i) for i in range(ctx.batch_size)]
        requests = [TeacherRequest(prompt=self.generate_prompt(s, wording, ctx.language), max_tokens=o.max_tokens,
                                   temperature=o.temperature, sample=f"generate:{batch_no}:{i}")
                    for i, s in enumerate(shown)]
        tasks: list[_Task] = []
        for index, (reply, listed) in enumerate(zip(await ctx.teacher.complete_many(requests), shown)):
            if isinstance(reply, TeacherRequestFailed):
                result.failed.append((Record.from_alpaca("", id=item_id(batch_no, index)), "teacher_failed",
                                      str(reply)[:300]))
                continue
            found = self.parse_tasks(reply.text, len(listed) + 1, wording)
            if not found:
                result.rejected.append((Record.from_alpaca(reply.text.strip()[:500], id=item_id(batch_no, index)),
                                        "bad_format", "no new instruction in the reply"))
            tasks += [_Task(index, position, text) for position, text in enumerate(found)]
        classify = [TeacherRequest(prompt=self.classify_prompt(t.instruction, self.classify_examples(
            ctx, batch_no, t.request), wording), max_tokens=8, temperature=0.0) for t in tasks]
        for task, reply in zip(tasks, await ctx.teacher.complete_many(classify) if classify else []):
            if isinstance(reply, TeacherRequestFailed):
                result.failed.append((Record.from_alpaca(task.instruction, id=self._id(batch_no, task)),
                                      "teacher_failed", str(reply)[:300]))
                task.is_classification = None  # type: ignore[assignment]
                continue
            task.is_classification = self.is_yes(reply.text, wording)
        tasks = [t for t in tasks if t.is_classification is not None]
        examples = {id(t): self.instance_examples(ctx, t, batch_no) for t in tasks}
        instances = [TeacherRequest(prompt=self.instance_prompt(t, examples[id(t)], wording), max_tokens=o.max_tokens,
                                    temperature=o.temperature, sample=f"instance:{batch_no}:{t.request}:{t.position}")
                     for t in tasks]
        for task, reply in zip(tasks, await ctx.teacher.complete_many(instances) if instances else []):
            record_id = self._id(batch_no, task)
            meta = {"is_classification": task.is_classification,
                    "instance_order": "output-first" if task.is_classification else "input-first",
                    "demonstrations": [e.id for e in examples[id(task)]]}
            if isinstance(reply, TeacherRequestFailed):
                result.failed.append((Record.from_alpaca(task.instruction, id=record_id), "teacher_failed",
                                      str(reply)[:300]))
                continue
            parsed = self.parse_instance(reply.text, task, wording, ctx.language)
            if reply.finish_reason == "length":
                result.rejected.append((Record.from_alpaca(task.instruction, id=record_id, meta=meta), "truncated",
                                        "finish_reason=length"))
            elif parsed is None:
                result.rejected.append((Record.from_alpaca(task.instruction, id=record_id, meta=meta), "bad_format",
                                        "instance labels missing"))
            else:
                result.records.append(Record.from_alpaca(task.instruction, parsed[0], parsed[1], id=record_id,
                                                         meta=meta))
        return result

    @staticmethod
    def _id(batch_no: int, task: _Task) -> str:
        return item_id(batch_no, task.request, task.position)

    # -- what the engine asks -----------------------------------------------------------
    def max_stalled_batches(self) -> int | None:
        return self.options.max_stalled_batches

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        w = self.wording(ctx.language)
        text = "\x1f".join([w.generate_header, w.classify_header, w.classify_question, w.output_first_header,
                            w.input_first_header, w.task_label, w.class_label, w.input_label, w.output_label])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        from factory.teaching import estimate_prompt_tokens

        o = self.options
        tasks = math.ceil(remaining / max(keep_rate, 1e-6)) if remaining else 0
        generations = math.ceil(tasks / o.tasks_per_request)
        wording = self.wording(ctx.language)
        prompt = estimate_prompt_tokens(TeacherRequest(prompt=self.generate_prompt(
            [s.instruction for s in ctx.seeds[: o.num_human + o.num_machine]], wording, ctx.language)))
        per_task_prompt = 2 * prompt  # the classification and instance prompts, about as long
        return MethodEstimate(generations + 2 * tasks, generations * prompt + tasks * per_task_prompt,
                              generations * o.max_tokens / 2 + tasks * (o.max_tokens / 8 + 1),
                              generations * o.max_tokens + tasks * (o.max_tokens + 8),
                              [("requests per task", "1 classification + 1 instance, plus 1 generation per "
                                f"{o.tasks_per_request} tasks")])


@hookimpl
def register_methods(register):
    register("self-instruct-original", SelfInstructOriginal)
