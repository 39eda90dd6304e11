"""What the preference methods share: where prompts come from, how answers are sampled, what a pair records,
and the figures a run of them reports (scores per teacher, margins, position bias).

Why one module: ``ai-feedback`` (score every answer, keep best vs worst) and ``pairwise-judge`` (compare two
answers in both orders) read prompts the same way, sample answers the same way (so the second method reuses
the first one's cached answers), write pairs with the same ``meta.preference`` layout, and the stats, card and
report read that layout back without knowing which method wrote it.

A pair is a :class:`~factory.records.Record` whose messages are the prompt (every turn up to the last user
turn), with ``chosen`` and ``rejected`` the better and the worse assistant reply and ``score`` the margin.
``meta.preference`` holds ``method``, ``judge`` (a label), ``margin``, and per method ``answers`` (teacher,
score, reason of each) or ``judgements`` (order shown, winner, position that won).
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from factory.errors import UserError
from factory.records import Record, message

#: meta key of every preference record (kept and rejected alike)
META = "preference"


# ---------------------------------------------------------------- prompts

def prompt_messages(record: Record) -> list[dict[str, str]]:
    """The record's turns up to and including its last user turn (what the answers answer)."""
    last = max((i for i, m in enumerate(record.messages) if m.get("role") == "user"), default=None)
    if last is None:
        return []
    return [message(m["role"], m["content"]) for m in record.messages[: last + 1]]


def prompts_path_records(path: Path, fmt: str = "auto") -> list[Record]:
    """Prompts from a file (any source format), a generated run folder (its ``accepted.jsonl``) or a dataset folder."""
    from factory.formats import load_source

    if path.is_dir() and (path / "accepted.jsonl").exists():
        return load_source(path / "accepted.jsonl", "auto")
    return load_source(path, fmt)  # a file, or a dataset folder (save_to_disk or Parquet files)


def prompts_digest(path: str | None) -> str | None:
    """The sha256 of the prompts' contents (a run folder: its accepted.jsonl), for the method's identity."""
    if not path:
        return None
    found = Path(path)
    if found.is_dir():
        found = found / "accepted.jsonl"
    if not found.is_file():
        return None
    return hashlib.sha256(found.read_bytes()).hexdigest()


def collect_prompts(ctx: Any, path: str | None, fmt: str) -> list[Record]:
    """The method's prompts: ``prompts`` (file or run folder) when set, else the source records, else the seeds;
    records without a user turn are left out, one prompt per distinct text (the first id kept)."""
    if path:
        records = prompts_path_records(Path(path), fmt)
    else:
        records = list(ctx.inputs) or list(ctx.seeds)
    seen: set[str] = set()
    prompts = []
    for index, record in enumerate(records):
        turns = prompt_messages(record)
        key = json.dumps(turns, ensure_ascii=False, sort_keys=True)
        if not turns or key in seen:
            continue
        seen.add(key)
        prompts.append(Record(turns, id=record.id or f"prompt-{index}",
                              chosen=record.chosen, rejected=record.rejected,
                              meta={"prompt_id": record.id or f"prompt-{index}"}))
    return prompts


def load_prompts(method: Any, ctx: Any) -> list[Record]:
    """:func:`collect_prompts` for a method with ``prompts``/``prompts_format`` options; one clear line when none."""
    prompts = collect_prompts(ctx, method.options.prompts, method.options.prompts_format)
    if not prompts:
        where = method.options.prompts or "the seed tasks"
        raise UserError(f"{type(method).__name__}: no prompts in {where} (records need a user turn)")
    return prompts


def batch_slice(prompts: Sequence[Record], batch_no: int, batch_size: int) -> list[tuple[int, Record]]:
    start = batch_no * batch_size
    return list(enumerate(prompts[start:start + batch_size], start=start))


def batch_total(prompts: Sequence[Record], batch_size: int) -> int:
    return math.ceil(len(prompts) / max(1, batch_size))


def answer_request(prompt: Record, k: int, *, max_tokens: int, temperature: float) -> Any:
    """The k-th sampled answer to a prompt: the same prompt and k always ask the same (one cache entry), so a
    pairwise run after an ai-feedback run on the same teacher pays for no answer twice."""
    from factory.teachers import TeacherRequest

    # the sampling seed travels to the server (OpenAI, vLLM and llama.cpp take ``seed``): k samples of one
    # prompt are k different requests, and a server that honours seeds gives the same k-th answer again
    return TeacherRequest(messages=tuple((m["role"], m["content"]) for m in prompt.messages),
                          max_tokens=max_tokens, temperature=temperature, extra=(("seed", k),), sample=f"answer:{k}")


class Clients:
    """Teacher clients of one batch: the recipe's teacher, extra answerers and the judge; closed together."""

    def __init__(self, ctx: Any, answerers: Sequence[Any], judge: Any | None):
        self.ctx = ctx
        self._own: list[Any] = []
        self.answerers: list[Any] = [ctx.teacher] + [self._open(spec) for spec in answerers]
        self.labels: list[str] = [ctx.teacher.label] + [spec.provenance().label for spec in answerers]
        self.judge = ctx.teacher if judge is None else self._open(judge)
        self.judge_label = ctx.teacher.label if judge is None else judge.provenance().label

    def _open(self, spec: Any) -> Any:
        if self.ctx.client_for is None:
            raise RuntimeError("this method needs MethodContext.client_for (clients for more teachers)")
        client = self.ctx.client_for(spec)
        self._own.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._own:
            await client.aclose()


@dataclass
class Answer:
    text: str
    teacher: str
    k: int


async def sample_answers(clients: Clients, prompts: Sequence[tuple[int, Record]], count: int, *,
                         max_tokens: int, temperature: float) -> tuple[dict[int, list[Answer]], list[tuple]]:
    """``count`` answers per prompt, the k-th from answerer ``k % len(answerers)``. Returns answers by prompt
    position and the failures ``(record, reason, detail)``: truncated answers are left out (a cut answer would
    lose for its length, not its quality), failed requests make the batch fail (a rerun retries them)."""
    import asyncio

    from factory.teaching import TeacherRequestFailed

    jobs = [(position, prompt, k) for position, prompt in prompts for k in range(count)]
    by_teacher: dict[int, list[int]] = {}
    for index, (_, _, k) in enumerate(jobs):
        by_teacher.setdefault(k % len(clients.answerers), []).append(index)
    replies: list[Any] = [None] * len(jobs)

    async def run(teacher_index: int, indexes: list[int]) -> None:
        requests = [answer_request(jobs[i][1], jobs[i][2], max_tokens=max_tokens, temperature=temperature)
                    for i in indexes]
        for i, reply in zip(indexes, await clients.answerers[teacher_index].complete_many(requests)):
            replies[i] = reply

    await asyncio.gather(*(run(t, idx) for t, idx in by_teacher.items()))
    answers: dict[int, list[Answer]] = {position: [] for position, _ in prompts}
    failed: list[tuple] = []
    for (position, prompt, k), reply in zip(jobs, replies):
        teacher = clients.labels[k % len(clients.answerers)]
        if isinstance(reply, TeacherRequestFailed):
            failed.append((prompt.copy(), "teacher_failed", str(reply)[:300]))
        elif reply.finish_reason != "length" and reply.text.strip():
            answers[position].append(Answer(reply.text.strip(), teacher, k))
    return answers, failed


def pair_record(prompt: Record, chosen: str, rejected: str, margin: float, meta: dict[str, Any],
                record_id: str) -> Record:
    return Record([dict(m) for m in prompt.messages], id=record_id, chosen=chosen, rejected=rejected,
                  score=float(margin), meta={"prompt_id": prompt.meta.get("prompt_id", prompt.id), META: meta})


def dropped_record(prompt: Record, meta: dict[str, Any], record_id: str, output: str = "") -> Record:
    """A prompt that made no pair, for rejected.jsonl (``meta.preference`` keeps what was judged)."""
    messages = [dict(m) for m in prompt.messages] + ([message("assistant", output)] if output else [])
    return Record(messages, id=record_id, meta={"prompt_id": prompt.meta.get("prompt_id", prompt.id), META: meta})


# ---------------------------------------------------------------- the figures of a run

def _numbers(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _describe(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    return {"count": len(values), "min": min(values), "median": statistics.median(values),
            "mean": round(statistics.fmean(values), 4), "max": max(values)}


def summarize(accepted: Iterable[dict], rejected: Iterable[dict]) -> dict[str, Any] | None:
    """Scores per teacher, the margin distribution and position-bias figures, from journal rows (dicts with
    ``meta``; rejected rows also carry ``reason``). None when no row came from a preference method."""
    kept = [r for r in accepted if isinstance((r.get("meta") or {}).get(META), dict)]
    dropped = [r for r in rejected if isinstance((r.get("meta") or {}).get(META), dict)]
    if not kept and not dropped:
        return None
    scores: dict[str, list[float]] = {}
    judgements: list[dict] = []
    methods: set[str] = set()
    judges: set[str] = set()
    drops: dict[str, int] = {}
    for row in kept + dropped:
        pref = row["meta"][META]
        methods.add(str(pref.get("method", "")))
        if pref.get("judge"):
            judges.add(str(pref["judge"]))
        for answer in pref.get("answers") or []:
            if isinstance(answer, dict) and isinstance(answer.get("score"), (int, float)):
                scores.setdefault(str(answer.get("teacher", "?")), []).append(float(answer["score"]))
        judgements += [j for j in pref.get("judgements") or [] if isinstance(j, dict)]
    for row in dropped:
        drops[str(row.get("reason", "?"))] = drops.get(str(row.get("reason", "?")), 0) + 1
    margins = _numbers(r["meta"][META].get("margin") for r in kept)
    summary: dict[str, Any] = {
        "methods": sorted(m for m in methods if m),
        "judges": sorted(judges),
        "pairs": len(kept),
        "dropped": dict(sorted(drops.items())),
        "margins": {**_describe(margins), "histogram": histogram(margins)},
        "scores_by_teacher": {t: {**_describe(v), "histogram": histogram(v)} for t, v in sorted(scores.items())},
    }
    if judgements:
        summary["position_bias"] = position_bias(kept + dropped)
    return summary


def histogram(values: Sequence[float]) -> dict[str, int]:
    """Counts by value rounded to the half point (scores and margins on the 0-5 scale), in value order."""
    counts: dict[float, int] = {}
    for value in values:
        key = round(value * 2) / 2
        counts[key] = counts.get(key, 0) + 1
    return {f"{k:g}": counts[k] for k in sorted(counts)}


def position_bias(rows: Sequence[dict]) -> dict[str, Any]:
    """How often the judge picked the answer shown first, and how often its two orders agreed.

    ``first_position_share`` is the share of decided judgements (not ties) that chose the first-shown answer:
    0.5 is no bias. ``agreement`` is the share of compared pairs whose two orders chose the same answer (both
    ties count as agreeing)."""
    first = second = ties = 0
    agree = disagree = 0
    for row in rows:
        found = [j for j in row["meta"][META].get("judgements") or [] if isinstance(j, dict)]
        for judgement in found:
            position = judgement.get("position")
            first += position == "first"
            second += position == "second"
            ties += position == "tie"
        if len(found) == 2:
            if found[0].get("winner") == found[1].get("winner"):
                agree += 1
            else:
                disagree += 1
    decided = first + second
    compared = agree + disagree
    return {"judgements": first + second + ties, "first_position_wins": first, "second_position_wins": second,
            "ties": ties, "first_position_share": round(first / decided, 4) if decided else None,
            "pairs_compared": compared, "orders_agree": agree, "orders_disagree": disagree,
            "agreement": round(agree / compared, 4) if compared else None}


def run_summary(run_dir: Path) -> dict[str, Any] | None:
    """:func:`summarize` over a run folder's journals."""
    def rows(path: Path) -> list[dict]:
        if not path.exists():
            return []
        found = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # a torn last line of a killed run: the journal repairs it on resume
        return found

    return summarize(rows(run_dir / "accepted.jsonl"), rows(run_dir / "rejected.jsonl"))
