"""The method contract: how a generation method turns its context into records.

The generate stage owns the loop (batches in plan order, the filters, the
journal, the budget, resume); a method owns everything about *what* is asked
and how replies become records. The engine reads no method option by name:
a method answers through this contract.

A method gets a :class:`MethodContext` (the language, the seed tasks, the
source records, the recipe's seed, the teacher clients) and, for each batch
number, returns a :class:`BatchResult`: candidate records plus rejections with
reason codes. The same recipe seed and batch number must give the same
requests, so a resumed or distributed run asks exactly what an uninterrupted
one asks (the response cache then answers, and nothing is paid twice).

A method may call the teacher any number of times per record (a multi-turn
self-chat, a judge) through :attr:`MethodContext.teacher` or
:meth:`MethodContext.client_for`; every call gets the cache, retries, usage and
budget. Most methods send one request per item and parse each reply:
:class:`PromptMethod` does the sending, so such a method writes only
:meth:`PromptMethod.requests` and :meth:`PromptMethod.parse`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

from factory.contracts import Plugin
from factory.records import Record

#: record, reason code, detail
Rejection = tuple[Record, str, str]


@dataclass
class MethodContext:
    """What the engine hands a method for one run."""

    language: Any  # factory.languages.Language
    seeds: list[Record]  # the method's seed tasks (empty when the recipe names none and the method needs none)
    inputs: list[Record]  # records of the recipe's source section (prompts to answer, pairs to judge...)
    recipe_seed: int
    batch_size: int  # the recipe's batch_size: requests (or inputs) per journal batch
    teacher: Any = None  # factory.teaching.TeacherClient of the recipe's teacher, or None
    #: a TeacherClient for another teacher section (a judge) under the same cache, usage and budget
    client_for: Callable[[Any], Any] | None = None
    #: records accepted so far, in journal order (read only by methods with ``lookahead = 0``)
    accepted: Sequence[Record] = field(default_factory=list)

    def rng(self, batch_no: int, index: int = 0, salt: str = "") -> random.Random:
        """A generator fixed by the recipe seed, the batch and the item: the same numbers on every run."""
        return seeded_rng(self.recipe_seed, batch_no, index, salt)


def seeded_rng(recipe_seed: int, batch_no: int, index: int = 0, salt: str = "") -> random.Random:
    """See :meth:`MethodContext.rng`; ``salt`` separates the draws of one item (demonstrations, turns...)."""
    return random.Random(f"{recipe_seed}:{batch_no}:{index}" + (f":{salt}" if salt else ""))


@dataclass
class BatchResult:
    """What one batch produced: candidates for the filters, and rejections with reason codes."""

    records: list[Record] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    #: requests of this batch that failed after every retry (the engine commits the batch only when there are none,
    #: unless told to skip them, so a rerun after an outage converges to the clean result)
    failed: list[Rejection] = field(default_factory=list)

    def extend(self, other: "BatchResult") -> None:
        self.records += other.records
        self.rejected += other.rejected
        self.failed += other.failed


@dataclass
class MethodEstimate:
    """What the rest of a run would send, before anything is sent (``factory run --estimate``)."""

    requests: int
    prompt_tokens: float  # in total
    completion_tokens: float  # typical, in total
    completion_tokens_max: float  # at most, in total
    notes: list[tuple[str, str]] = field(default_factory=list)  # extra lines for the estimate table
    #: The share of the totals above sent to another teacher of the method (role of :meth:`Method.teachers_for`,
    #: such as ``judge``): ``--estimate`` prices each share at that teacher's price, the rest at the recipe's.
    by_role: dict[str, MethodEstimate] = field(default_factory=dict)


class Method(Plugin):
    """Base class of generation methods; built as ``cls(options)`` from the recipe's ``method`` section."""

    kind: ClassVar[str] = "method"
    #: Batches the engine may start before the previous ones are committed. None: as many as keep the teacher's
    #: concurrency busy (the method reads nothing that earlier batches wrote); 0: one at a time (the method reads
    #: ``MethodContext.accepted``).
    lookahead: ClassVar[int | None] = None
    #: Reason codes this method's rejections use, with what they mean (shown in stats, report and card).
    reasons: ClassVar[dict[str, str]] = {}
    #: Whether the method needs seed tasks (the language's seed set when the recipe names none).
    needs_seeds: ClassVar[bool] = True
    #: Whether the seed tasks start the near-duplicate pool: False for a method whose records answer or judge the
    #: seeds themselves (every record would be a near-duplicate of its own seed).
    seeds_in_pool: ClassVar[bool] = True
    #: Whether the method needs a source section (records to answer, translate or judge).
    needs_inputs: ClassVar[bool] = False

    def prepare(self, ctx: MethodContext) -> None:
        """Check the context once before any request (raise UserError with one clear line)."""

    def batch_count(self, ctx: MethodContext) -> int | None:
        """How many batches the run has when the method walks its inputs; None: until the target is kept."""
        return None

    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        """Make batch ``batch_no``: deterministic for the recipe seed and the batch number."""
        raise NotImplementedError

    def max_stalled_batches(self) -> int | None:
        """Stop after this many batches in a row keep nothing (the teacher only repeats itself); None: never."""
        return None

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        """A digest of the prompt wording, so a dataset card can say which prompt made the data."""
        return hashlib.sha256(type(self).__qualname__.encode()).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        """Requests and tokens to keep ``remaining`` more records, if ``keep_rate`` of candidates survive."""
        return MethodEstimate(0, 0, 0, 0, [("estimate", f"method {type(self).__name__} gives no estimate")])

    @classmethod
    def run_summary(cls, run_dir: Any) -> dict[str, Any] | None:
        """Figures about what this method made, read from a run folder's journals, for stats.json
        (``method_summary``), the card and the report; None when the method has none."""
        return None

    @classmethod
    def teachers_for(cls, options: Any) -> dict[str, Any]:
        """Teacher sections in this method's own options (role -> TeacherSpec: a judge ...), for provenance,
        requirements and the fingerprint (their identities are part of the method's identity already)."""
        from factory.teacher_factory import TeacherSpec

        return {name: getattr(options, name) for name in type(options).model_fields
                if isinstance(getattr(options, name), TeacherSpec)}


class PromptMethod(Method):
    """A method that sends one teacher request per item of a batch and parses each reply."""

    def requests(self, ctx: MethodContext, batch_no: int) -> list[Any]:
        """The batch's TeacherRequests; the same seed and batch number always give the same requests."""
        raise NotImplementedError

    def parse(self, ctx: MethodContext, completion: Any, batch_no: int, index: int) -> BatchResult:
        """The records and rejections in one reply."""
        raise NotImplementedError

    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        from factory.teaching import TeacherRequestFailed

        requests = self.requests(ctx, batch_no)
        result = BatchResult()
        for index, reply in enumerate(await ctx.teacher.complete_many(requests)):
            if isinstance(reply, TeacherRequestFailed):
                placeholder = Record.from_alpaca("", id=item_id(batch_no, index))
                result.failed.append((placeholder, "teacher_failed", str(reply)[:300]))
                continue
            result.extend(self.parse(ctx, reply, batch_no, index))
        return result


def item_id(batch_no: int, index: int, position: int | None = None) -> str:
    """The id of a generated record: batch, request and position in the reply (stable across runs)."""
    return f"gen-{batch_no:05d}-{index:02d}" + ("" if position is None else f"-{position}")
