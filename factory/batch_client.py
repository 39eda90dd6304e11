"""How a :class:`~factory.teaching.TeacherClient` drives a teacher in batch mode (imported by it on first use).

Why its own module: a vendor batch API answers many requests at once, hours
later, so the per-request loop of :mod:`factory.teaching` (concurrency,
per-attempt timeouts, rate limits) does not apply, while everything the run
relies on must hold exactly as for single requests: cache hits and duplicates
cost nothing, every request reserves its upper estimate from the budget
before it is submitted and settles with its real usage, every answer is
cached the moment it is known, only requests that failed retryably are
submitted again (up to ``max_attempts``), a fatal answer stops the run after
the others are cached. The teacher's ``complete_batch`` (contract:
:class:`~factory.teachers.BatchTeacher`) does the vendor's part.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from factory.costs import BudgetExceeded
from factory.errors import StopRun
from factory.teachers import Completion, FatalTeacherError, RetryableTeacherError, TeacherRequest
from factory.teaching import EMPTY_REPLY, TeacherRequestFailed, TeacherStopped, estimate_prompt_tokens, is_empty_reply

if TYPE_CHECKING:
    from factory.teaching import TeacherClient

log = logging.getLogger("factory.teaching")


class BatchedCall:
    """One ``complete_many`` (or ``complete``) call of a client whose teacher is in batch mode."""

    def __init__(self, client: "TeacherClient", requests: Sequence[TeacherRequest]):
        self.client = client
        self.keys = [request.cache_key(client.teacher.identity_key) for request in requests]
        self.done: dict[str, Completion] = {}
        self.todo: dict[str, TeacherRequest] = {}
        for key, request in zip(self.keys, requests):
            hit = client.cache.get(key) if client.cache is not None else None
            if hit is not None:
                self.done[key] = hit
            elif key not in self.todo:
                self.todo[key] = request
        client.usage.add(cached_requests=len(requests) - len(self.todo))  # cache hits and duplicates within the call
        self.failed: dict[str, TeacherRequestFailed] = {}
        self.last: dict[str, RetryableTeacherError] = {}
        self.stop: StopRun | None = None
        self.tokens: dict[str, int | None] = {}  # ledger rows of the requests in the current submission

    async def run(self) -> list[Completion | TeacherRequestFailed]:
        client = self.client
        attempt = 0
        while self.todo and self.stop is None and attempt < client.settings.max_attempts:
            if attempt:
                error = next(iter(self.last.values()), None)
                delay = client._backoff(attempt, error.retry_after if error else None)
                log.info("teacher %s: %d batch request(s) to submit again (%s); retry %d in %.2fs",
                         client.label, len(self.todo), error, attempt, delay)
                await asyncio.sleep(delay)
            attempt += 1
            reserved = self._reserve()
            if not reserved:
                break
            self._write_ahead(reserved, first=attempt == 1)
            outcome = await self._submit(reserved)
            for key, estimate in reserved.items():
                self._settle(key, estimate, outcome.get(key), attempt)
        self._give_up(attempt)
        if self.stop is not None:
            raise self.stop
        return self._in_order()

    def _reserve(self) -> dict[str, float]:
        """Each pending request's upper estimate, reserved from the budget in order until it is full."""
        client = self.client
        reserved: dict[str, float] = {}
        for key, request in self.todo.items():
            estimate = client.cost(estimate_prompt_tokens(request), request.max_tokens)
            if client.budget is not None:
                try:
                    client.budget.reserve(estimate)
                except BudgetExceeded as exc:
                    self.stop = client._stop(exc)  # what was reserved is still submitted; the stop follows
                    break
            reserved[key] = estimate
        return reserved

    def _write_ahead(self, reserved: dict[str, float], first: bool) -> None:
        """Write each request down in the spend ledger before it is submitted. A request an earlier, killed
        process already submitted (the journal knows its batch, which is polled, not sent again) takes over
        that process's ledger row instead: the server received it once, so it is counted once."""
        client = self.client
        submitted = client.batch_journal.find(client.teacher.identity_key, reserved) if first else {}
        for key, estimate in reserved.items():
            token = client.usage.adopt(key) if key in submitted else None
            if token is None:
                token = client.usage.reserve(estimate, key=key, **({"requests": 1} if first else {"retries": 1}))
            self.tokens[key] = token

    async def _submit(self, reserved: dict[str, float]) -> Mapping[str, Any]:
        client = self.client
        try:
            return await client.teacher.complete_batch([(key, self.todo[key]) for key in reserved], client.batch_journal)
        except RetryableTeacherError as exc:
            return {key: exc for key in reserved}
        except FatalTeacherError as exc:
            self.stop = client._stop(TeacherStopped(f"teacher {client.label}: {exc}", exc.status))
            return {}
        except BaseException:  # cancelled, or a plugin bug: release the reservations before leaving
            if client.budget is not None:
                for estimate in reserved.values():
                    client.budget.settle(estimate, 0.0)
            raise

    def _settle(self, key: str, estimate: float, result: Any, attempt: int) -> None:
        """Account, cache and file one request's result."""
        client = self.client
        if result is None:
            result = RetryableTeacherError("no result for this request in the batch output")
        spent = client.cost(result.prompt_tokens, result.completion_tokens) if isinstance(result, Completion) else 0.0
        if client.budget is not None:
            client.budget.settle(estimate, spent)
        token = self.tokens.pop(key, None)
        if isinstance(result, Completion) and is_empty_reply(result):  # billed, but retried and never cached
            client.usage.settle(token, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                                cost_usd=spent)
            token, result = None, RetryableTeacherError(EMPTY_REPLY)
        if isinstance(result, Completion):
            if client.cache is not None:
                client.cache.put(key, result)  # before anything else can fail: this answer is paid for
            client.usage.settle(token, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                                cost_usd=spent)
            self.done[key] = result
            del self.todo[key]
            self.last.pop(key, None)
            return
        client.usage.settle(token)  # an unanswered row is not billed
        if isinstance(result, FatalTeacherError):
            self.stop = self.stop or client._stop(TeacherStopped(f"teacher {client.label}: {result}", result.status))
            self.failed[key] = TeacherRequestFailed(self.todo.pop(key), attempt, str(result), result.status)
        else:
            self.last[key] = result if isinstance(result, RetryableTeacherError) else RetryableTeacherError(str(result))

    def _give_up(self, attempts: int) -> None:
        """Requests still pending: failed after their attempts, or never submitted (the run is stopping)."""
        client = self.client
        for key, request in self.todo.items():
            error = self.last.get(key)
            if error is not None:
                client.usage.add(failed_requests=1)
                log.warning("teacher %s: batch request failed after %d attempt(s): %s", client.label, attempts, error)
            self.failed[key] = TeacherRequestFailed(request, attempts, str(error) if error else "not submitted",
                                                    error.status if error else None)

    def _in_order(self) -> list[Completion | TeacherRequestFailed]:
        results: list[Completion | TeacherRequestFailed] = []
        seen: set[str] = set()
        for key in self.keys:
            result = self.done.get(key) or self.failed[key]
            results.append(replace(result, cached=True) if key in seen and isinstance(result, Completion) else result)
            seen.add(key)
        return results
