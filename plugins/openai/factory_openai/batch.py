"""The Batch API path of the ``openai`` teacher: upload, create, poll, collect, resume.

Why: OpenAI bills batch requests at half the list price, answered within 24
hours, which suits dataset generation. One :class:`BatchRun` takes the cache
misses of one ``TeacherClient.complete_many`` call:

1. custom ids already journaled in a pending or answered batch (a run killed
   while it waited) are not submitted again: that batch is polled (or, when
   the kill fell between upload and creation, found by its input file or
   created from the uploaded file);
2. the rest become JSONL lines (``{"custom_id", "method", "url", "body"}``),
   split into files of at most ``batch_max_requests`` lines and
   ``batch_max_bytes`` bytes, each written to ``RUN/cache/batches/``, uploaded
   with the Files API (purpose ``batch``), journaled, then run with the
   Batches API (``completion_window: 24h``);
3. every batch is polled each ``batch_poll_s`` seconds, its state shown in the
   run's progress log; when it ends, its output and error files are read and
   each row matched to its request by ``custom_id``.

A row that failed, expired or is missing comes back as a retryable error, so
the core resubmits it (alone) in a new batch; a row the server refused (400,
401...) is fatal, as online. The JSONL files are what ``vllm run-batch``
reads too (chat API): see docs/teachers.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from factory.batch_journal import BatchJournal, JournaledBatch
from factory.teachers import Completion, FatalTeacherError, RetryableTeacherError, TeacherError, TeacherRequest

from factory_openai.errors import server_message

if TYPE_CHECKING:
    from factory_openai.teacher import OpenAITeacher

log = logging.getLogger(__name__)

TERMINAL = {"completed", "failed", "expired", "cancelled"}
COMPLETION_WINDOW = "24h"
#: batch-level error codes that clear by themselves (too many tokens enqueued at once, a server fault)
_TRANSIENT_BATCH_ERRORS = {"token_limit_exceeded", "rate_limit_exceeded", "server_error"}
#: consecutive failed status checks before the run gives up on a batch (it stays journaled for the next run)
MAX_POLL_FAILURES = 10
_LIST_PAGES = 20  # batches listed (100 a page) when looking for one created just before a kill


class BatchRun:
    """One ``complete_batch`` call of an :class:`~factory_openai.teacher.OpenAITeacher`."""

    def __init__(self, teacher: "OpenAITeacher", journal: BatchJournal):
        self.teacher = teacher
        self.journal = journal
        self.options = teacher.options
        self.identity = teacher.identity_key  # the journal's teacher column: what answered (a digest)
        self.label = teacher.label

    async def run(self, jobs: Sequence[tuple[str, TeacherRequest]]) -> dict[str, Completion | TeacherError]:
        requests = dict(jobs)
        results: dict[str, Completion | TeacherError] = {}
        known = self.journal.find(self.identity, requests)
        batches: dict[str, JournaledBatch] = {entry.file_id: entry for entry in known.values()}
        for entry in batches.values():
            self.journal.report(f"teacher batch {entry.batch_id or entry.file_id}: resuming ({entry.state}, "
                                f"journaled {time.strftime('%Y-%m-%d %H:%M', time.localtime(entry.created))})")
        client = self.teacher._new_client()
        try:
            for part in self._split([(key, request) for key, request in jobs if key not in known]):
                try:
                    entry = await self._upload(client, part)
                except RetryableTeacherError as exc:
                    results.update((key, exc) for key, _ in part)
                    continue
                batches[entry.file_id] = entry
            waiting: dict[str, str] = {}
            for entry in batches.values():
                try:
                    waiting[entry.file_id] = entry.batch_id or await self._created(client, entry)
                except RetryableTeacherError as exc:
                    results.update((key, exc) for key in self.journal.items(entry.file_id) if key in requests)
            await self._wait(client, waiting, requests, results)
        finally:
            await client.close()
        return results

    # -- submission -----------------------------------------------------------------------
    def _split(self, jobs: Sequence[tuple[str, TeacherRequest]]) -> Iterator[list[tuple[str, bytes]]]:
        """Input-file lines, cut into parts within the request-count and byte limits."""
        part: list[tuple[str, bytes]] = []
        size = 0
        for key, request in jobs:
            line = json.dumps({"custom_id": key, "method": "POST", "url": self.teacher.endpoint,
                               "body": self.teacher.request_body(request)}, ensure_ascii=False).encode("utf-8") + b"\n"
            if len(line) > self.options.batch_max_bytes:
                raise FatalTeacherError(f"one request is {len(line)} bytes as a batch line, over "
                                        f"teacher.batch_max_bytes={self.options.batch_max_bytes}")
            if part and (len(part) >= self.options.batch_max_requests or size + len(line) > self.options.batch_max_bytes):
                yield part
                part, size = [], 0
            part.append((key, line))
            size += len(line)
        if part:
            yield part

    async def _upload(self, client: Any, part: list[tuple[str, bytes]]) -> JournaledBatch:
        """Write one input file, upload it, journal it, and create its batch."""
        folder = self.journal.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.jsonl"
        data = b"".join(line for _, line in part)
        path.write_bytes(data)
        uploaded = await self._call(client.files.create(file=(path.name, data, "application/jsonl"), purpose="batch"))
        self.journal.record_upload(self.identity, uploaded.id, [key for key, _ in part], path)
        entry = JournaledBatch(uploaded.id, None, "uploaded", str(path), time.time())
        batch_id = await self._create(client, entry, requests=len(part), size=len(data))
        return JournaledBatch(entry.file_id, batch_id, "validating", entry.path, entry.created)

    async def _created(self, client: Any, entry: JournaledBatch) -> str:
        """The batch of a file uploaded before a kill: the one the server already made from it, or a new one."""
        page = await self._call(client.batches.list(limit=100))
        for _ in range(_LIST_PAGES):
            for batch in page.data:
                if batch.input_file_id == entry.file_id:
                    self.journal.record_batch(entry.file_id, batch.id, batch.status)
                    return batch.id
            if not page.has_next_page():
                break
            page = await self._call(page.get_next_page())
        return await self._create(client, entry, requests=len(self.journal.items(entry.file_id)), size=None)

    async def _create(self, client: Any, entry: JournaledBatch, *, requests: int, size: int | None) -> str:
        batch = await self._call(client.batches.create(
            input_file_id=entry.file_id, endpoint=self.teacher.endpoint, completion_window=COMPLETION_WINDOW,
            metadata={"factory_input": entry.path.rsplit("/", 1)[-1]}))
        self.journal.record_batch(entry.file_id, batch.id, batch.status)
        weight = f", {size / 1e6:.1f} MB" if size is not None else ""
        self.journal.report(f"teacher batch {batch.id}: submitted {requests} requests{weight} "
                            f"(input file {entry.file_id})")
        return batch.id

    # -- waiting and collecting -----------------------------------------------------------
    async def _wait(self, client: Any, waiting: dict[str, str], requests: dict[str, TeacherRequest],
                    results: dict[str, Completion | TeacherError]) -> None:
        shown: dict[str, str] = {}
        failures = 0
        while waiting:
            for file_id, batch_id in list(waiting.items()):
                try:
                    batch = await self._call(client.batches.retrieve(batch_id))
                except RetryableTeacherError as exc:
                    failures += 1
                    if failures >= MAX_POLL_FAILURES:
                        raise RetryableTeacherError(f"batch {batch_id}: {failures} status checks failed in a row ({exc}); "
                                                    "it stays journaled and is polled again") from None
                    log.info("teacher %s: status of batch %s: %s; asking again", self.label, batch_id, exc)
                    continue
                failures = 0
                state = _describe(batch)
                if shown.get(batch_id) != state:
                    shown[batch_id] = state
                    self.journal.report(f"teacher batch {batch_id}: {state}")
                    self.journal.set_state(file_id, batch.status)
                if batch.status in TERMINAL:
                    results.update(await self._collect(client, batch, file_id, requests))
                    del waiting[file_id]
            if waiting:
                await asyncio.sleep(self.options.batch_poll_s)

    async def _collect(self, client: Any, batch: Any, file_id: str, requests: dict[str, TeacherRequest]
                       ) -> dict[str, Completion | TeacherError]:
        """Each custom id of a finished batch: its completion, or why it has none; outcomes journaled."""
        outcome: dict[str, Completion | TeacherError] = {}
        for output in (batch.output_file_id, batch.error_file_id):
            if not output:
                continue
            content = await self._call(client.files.content(output))
            for number, line in enumerate(content.text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    log.warning("teacher %s: batch %s output line %d is not JSON; its request is sent again",
                                self.label, batch.id, number)
                    continue
                custom_id = row.get("custom_id") if isinstance(row, dict) else None
                if isinstance(custom_id, str):
                    outcome[custom_id] = self._row(row, requests.get(custom_id) or TeacherRequest(), batch.id)
        unanswered = self._unanswered(batch)
        for custom_id in self.journal.items(file_id):
            outcome.setdefault(custom_id, unanswered)
        answered = [custom_id for custom_id, result in outcome.items() if isinstance(result, Completion)]
        self.journal.record_outcomes(file_id, answered, [c for c, r in outcome.items() if not isinstance(r, Completion)])
        return {custom_id: result for custom_id, result in outcome.items() if custom_id in requests}

    def _row(self, row: dict[str, Any], request: TeacherRequest, batch_id: str) -> Completion | TeacherError:
        response = row.get("response") or {}
        error = row.get("error")
        if not response:
            code = error.get("code") if isinstance(error, dict) else None
            message = self.teacher._scrub(server_message(error) or "no response")
            if code == "batch_expired":
                return RetryableTeacherError(f"batch {batch_id} expired before this request ran: {message}")
            return RetryableTeacherError(f"batch {batch_id} row error {code or ''}: {message}".replace("  ", " "))
        status = int(response.get("status_code") or 0)
        body = response.get("body")
        if status != 200:
            detail = body.get("error", body) if isinstance(body, dict) else body
            message = self.teacher._scrub(server_message(detail) or f"status {status}")
            code = detail.get("code") if isinstance(detail, dict) else None
            kind = detail.get("type") if isinstance(detail, dict) else None
            return self.teacher.status_error(status or 500, message, code=code, kind=kind)
        try:
            completion = self.teacher._completion(_parse_body(body, self.teacher.chat), request, self.teacher.chat)
        except (RetryableTeacherError, ValueError) as exc:
            return RetryableTeacherError(f"batch {batch_id}: malformed output row: {exc}")
        completion.raw["batch_id"] = batch_id
        return completion

    def _unanswered(self, batch: Any) -> TeacherError:
        """Why a request of this finished batch has no row."""
        if batch.status == "expired":
            return RetryableTeacherError(f"batch {batch.id} expired before this request ran")
        if batch.status == "cancelled":
            return RetryableTeacherError(f"batch {batch.id} was cancelled before this request ran")
        if batch.status == "failed":
            problems = [error for error in (getattr(getattr(batch, "errors", None), "data", None) or [])]
            words = "; ".join(f"{p.code}: {p.message}" + (f" (line {p.line})" if getattr(p, "line", None) else "")
                              for p in problems) or "no reason given"
            words = self.teacher._scrub(words)
            if any(p.code in _TRANSIENT_BATCH_ERRORS for p in problems):
                return RetryableTeacherError(f"batch {batch.id} failed: {words}")
            return FatalTeacherError(f"batch {batch.id} failed validation: {words}")
        return RetryableTeacherError(f"batch {batch.id} has no row for this request")

    async def _call(self, pending: Any) -> Any:
        """Await one Files/Batches API call, with the teacher's error translation."""
        import openai

        try:
            return await pending
        except openai.APIError as exc:
            raise self.teacher._translate(exc) from None


def _describe(batch: Any) -> str:
    counts = getattr(batch, "request_counts", None)
    if counts is None:
        return batch.status
    return f"{batch.status}, {counts.completed}/{counts.total} done, {counts.failed} failed"


def _parse_body(body: Any, chat: bool) -> Any:
    """A batch row's response body as the client's own response type (a ValueError when it is not one)."""
    import openai.types
    import openai.types.chat
    import pydantic

    model = openai.types.chat.ChatCompletion if chat else openai.types.Completion
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        raise ValueError(f"{exc.error_count()} field error(s), first: {exc.errors()[0]['msg']}") from None
