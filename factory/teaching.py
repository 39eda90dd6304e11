"""The machinery every teacher runs under: limits, retries, cache, cost and budget.

A teacher plugin (:mod:`factory.teachers`) only sends one request. Paid APIs
need much more around that, and every teacher needs the same thing, so it lives
here once:

- a concurrency bound (requests in flight) and token-bucket rate limits
  (requests/min, tokens/min), with a shared pause after a 429's Retry-After;
- retries with exponential backoff and full jitter on
  :class:`~factory.teachers.RetryableTeacherError` (and on a per-request
  timeout), up to ``max_attempts``; then :class:`TeacherRequestFailed`, which the
  caller records before going on;
- a :class:`~factory.teachers.FatalTeacherError` becomes :class:`TeacherStopped`
  (a :class:`~factory.errors.StopRun`): nothing new is sent, requests already in
  flight finish and are cached, the run stops with one clear line;
- a SQLite response cache keyed by the full request, written the moment a
  response arrives, so a resumed run never pays twice;
- cost from token usage and the price table, and a budget reserved *before*
  each call (upper estimate) and settled with the real usage after it.

This module must not import openai or any other heavy client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Sequence

import pydantic
from pydantic import Field

from factory.batch_journal import BatchJournal
from factory.costs import Budget, BudgetExceeded, TokenPrice, Usage
from factory.errors import StopRun
from factory.sqlite_cache import SQLiteCache
from factory.teachers import Completion, FatalTeacherError, RetryableTeacherError, Teacher, TeacherError, TeacherRequest

log = logging.getLogger(__name__)

#: Chat formats add a few tokens per message around the content.
_TOKENS_PER_MESSAGE = 4


class TeacherPrice(pydantic.BaseModel, extra="forbid"):
    """USD per one million tokens, overriding the built-in price table."""

    input_per_1m: float = Field(ge=0, description="USD per 1M prompt (input) tokens.")
    output_per_1m: float = Field(ge=0, description="USD per 1M completion (output) tokens.")


class TeacherSettings(pydantic.BaseModel, extra="forbid"):
    """How the core drives a teacher: limits, retries, timeouts and price."""

    concurrency: int = Field(8, ge=1, description="Most requests in flight at once.")
    requests_per_minute: float | None = Field(
        None, gt=0, description="Request rate limit (token bucket, one second of burst); none when unset."
    )
    tokens_per_minute: float | None = Field(
        None,
        gt=0,
        description="Token rate limit, charged with each request's upper estimate (prompt + max_tokens) "
        "and refunded down to the real usage; none when unset.",
    )
    max_attempts: int = Field(5, ge=1, description="Attempts per request (first try included) before it is recorded as failed.")
    backoff_initial_s: float = Field(1.0, ge=0, description="Backoff cap for the first retry; doubles on each retry (full jitter).")
    backoff_max_s: float = Field(60.0, ge=0, description="Largest backoff between attempts (a server's Retry-After may be longer).")
    timeout_s: float = Field(120.0, gt=0, description="Seconds one attempt may take before it is abandoned and retried.")
    price: TeacherPrice | None = Field(
        None, description="USD per 1M input/output tokens; overrides the teacher plugin's own price (free when it has none)."
    )


class TeacherRequestFailed(TeacherError):
    """A request that still failed after ``max_attempts``: the caller records it and goes on."""

    def __init__(self, request: TeacherRequest, attempts: int, reason: str, status: int | None = None):
        super().__init__(f"teacher request failed after {attempts} attempt(s): {reason}")
        self.request = request
        self.attempts = attempts
        self.reason = reason
        self.status = status


class TeacherStopped(StopRun):
    """The teacher answered with a non-retryable error (bad key, unknown model, bad request, no quota)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def estimate_text_tokens(text: str) -> int:
    """An upper-leaning token estimate without a tokenizer.

    About four characters per token holds for English with BPE tokenizers, but
    Korean, Japanese or Chinese text costs about one token per character or
    more, so non-ASCII characters count one each: the budget reservation must
    not underestimate non-Latin prompts.
    """
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def estimate_prompt_tokens(request: TeacherRequest) -> int:
    if request.messages is not None:
        return sum(estimate_text_tokens(content) + _TOKENS_PER_MESSAGE for _, content in request.messages)
    return estimate_text_tokens(request.prompt or "")


EMPTY_REPLY = "empty reply (the answer had no content)"


def is_empty_reply(completion: Completion) -> bool:
    """An answer with no text (``content: null`` or blank): a failure to retry, not a success to keep.

    Counted as a success it would be cached, and a run would pay batch after batch for nothing until the
    stall guard stopped it; as a failure it is retried, and a rerun asks again.
    """
    return not (completion.text or "").strip()


class ResponseCache(SQLiteCache):
    """Responses by request key in a SQLite file, committed as each response arrives.

    Every :meth:`put` is its own transaction (see :class:`SQLiteCache`), so a
    killed process keeps every response it was paid for.
    """

    table = "responses"
    what = "response cache"

    def __init__(self, path: str | Path):
        super().__init__(
            Path(path),
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)",
            busy_timeout_s=10.0,
            # NORMAL is durable across a process kill in WAL mode (only an OS crash can drop the last commits).
            synchronous="NORMAL",
        )

    def get(self, key: str) -> Completion | None:
        """The cached completion (``cached=True``), or None; an unreadable entry counts as a miss."""
        row = self._fetch_one("SELECT value FROM responses WHERE key = ?", (key,))
        if row is None:
            return None
        try:
            data = json.loads(row[0])
            if not str(data["text"] or "").strip():
                return None  # an empty answer an older factory cached: ask again
            return Completion(
                text=data["text"],
                finish_reason=data["finish_reason"],
                prompt_tokens=int(data.get("prompt_tokens", 0)),
                completion_tokens=int(data.get("completion_tokens", 0)),
                cached=True,
                raw=data.get("raw") or {},
            )
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring an unreadable response-cache entry %s in %s", key[:12], self.path)
            return None

    def put(self, key: str, completion: Completion) -> None:
        data = asdict(completion)
        data.pop("cached", None)
        blob = json.dumps(data, ensure_ascii=False, default=str)
        self._write("INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)", (key, blob, time.time()))

    def __contains__(self, key: object) -> bool:
        return self._fetch_one("SELECT 1 FROM responses WHERE key = ?", (key,)) is not None


class TokenBucket:
    """An async token bucket: ``per_minute`` units a minute, bursting up to one second's worth.

    A request larger than the burst waits for a full bucket and leaves it in
    debt, so the long-run rate holds for any request size.
    """

    def __init__(self, per_minute: float, clock: Any = time.monotonic):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self, amount: float = 1.0) -> None:
        async with self._lock:  # first come, first served
            need = min(amount, self.capacity)
            self._refill()
            while self.level < need:
                await asyncio.sleep((need - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def refund(self, amount: float) -> None:
        """Give back units charged by an estimate above the real usage."""
        if amount > 0:
            self._refill()
            self.level = min(self.capacity, self.level + amount)


@dataclass
class _LoopState:
    """asyncio primitives bound to one event loop (a client may be driven by successive loops)."""

    loop: asyncio.AbstractEventLoop
    semaphore: asyncio.Semaphore
    request_bucket: TokenBucket | None
    token_bucket: TokenBucket | None
    pending: dict[str, asyncio.Future] = field(default_factory=dict)


class TeacherClient:
    """Drives one teacher under :class:`TeacherSettings`, with cache, usage counters and budget.

    ``usage.requests`` counts requests sent to the teacher (not cache hits, not
    retries), ``usage.retries`` the extra attempts, ``usage.failed_requests`` the
    requests that ran out of attempts, ``usage.cached_requests`` the hits.
    """

    def __init__(
        self,
        teacher: Teacher,
        settings: TeacherSettings,
        *,
        cache: ResponseCache | None,
        usage: Usage,
        budget: Budget | None,
        price: TokenPrice | None = None,
        label: str | None = None,
        batch_journal: BatchJournal | None = None,
    ):
        self.teacher = teacher
        self.settings = settings
        self.cache = cache
        self.usage = usage
        self.budget = budget
        #: set for a teacher in batch mode: requests then go through its batch API (_complete_batched)
        batch_mode = bool(getattr(teacher, "batch_mode", False))
        self.batch_journal = batch_journal if batch_mode else None
        if batch_mode and batch_journal is None:
            raise ValueError(f"teacher {teacher.identity} is in batch mode: give the TeacherClient a batch_journal")
        if settings.price is not None:
            price = TokenPrice(settings.price.input_per_1m, settings.price.output_per_1m)
        self.price: TokenPrice = price or TokenPrice()
        self._label = label
        self._stopped: StopRun | None = None
        self._resume_at = 0.0  # monotonic time before which nothing is sent (a 429's Retry-After)
        self._rng = random.Random()
        self._state: _LoopState | None = None

    # -- public --------------------------------------------------------------------------
    @property
    def identity(self) -> dict[str, Any]:
        """The teacher's identity (what changes its answers); its digest keys the response cache."""
        return self.teacher.identity

    @property
    def label(self) -> str:
        """A short human name (plugin, model, endpoint) for log and error lines; never a secret."""
        return self._label or self.teacher.label

    @property
    def stopped(self) -> StopRun | None:
        """The error that stopped this client, if any (nothing new is sent after it)."""
        return self._stopped

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        """USD for the given token counts at this client's price."""
        return self.price.cost(prompt_tokens, completion_tokens)

    def estimate(self, requests_count: int, prompt_tokens: float, completion_tokens: float) -> float:
        """Expected USD for ``requests_count`` requests of ``prompt_tokens`` in and ``completion_tokens`` out EACH."""
        return requests_count * self.cost(prompt_tokens, completion_tokens)

    async def complete(self, request: TeacherRequest) -> Completion:
        """One completion, from the cache or the teacher.

        Raises :class:`TeacherRequestFailed` when attempts run out, and a
        :class:`~factory.errors.StopRun` (:class:`TeacherStopped`,
        :class:`~factory.costs.BudgetExceeded`) when the run must stop.
        """
        if self._stopped is not None:
            raise self._stopped
        if self.batch_journal is not None:  # a teacher in batch mode: a batch of one, at the batch price
            (result,) = await self._complete_batched([request])
            if isinstance(result, TeacherRequestFailed):
                raise result
            return result
        key = request.cache_key(self.teacher.identity_key)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.add(cached_requests=1)
                return hit
        state = self._loop_state()
        twin = state.pending.get(key)
        if twin is not None:  # the same request is already in flight: share its answer, pay once
            completion = await asyncio.shield(twin)
            self.usage.add(cached_requests=1)
            return replace(completion, cached=True)
        future: asyncio.Future = state.loop.create_future()
        future.add_done_callback(_consume_exception)
        state.pending[key] = future
        try:
            completion = await self._fetch(request, key, state)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
            raise
        else:
            future.set_result(completion)
            return completion
        finally:
            state.pending.pop(key, None)

    async def complete_many(self, requests: Sequence[TeacherRequest]) -> list[Completion | TeacherRequestFailed]:
        """All requests concurrently (bounded by ``settings.concurrency``), results in request order.

        On a :class:`~factory.errors.StopRun` the requests already in flight
        still finish (and are cached) before it is raised. A teacher in batch
        mode gets all cache misses at once (:meth:`_complete_batched`).
        """
        if self.batch_journal is not None:
            return await self._complete_batched(requests)
        results: list[Completion | TeacherRequestFailed | None] = [None] * len(requests)
        async for index, result in self.complete_iter(requests):
            results[index] = result
        return results  # type: ignore[return-value]

    async def complete_iter(
        self, requests: Iterable[TeacherRequest]
    ) -> AsyncIterator[tuple[int, Completion | TeacherRequestFailed]]:
        """Yield ``(index, result)`` as each request finishes, so callers can save results as they come.

        A stop is raised after every started request has finished and been yielded.
        """
        tasks = [asyncio.ensure_future(self._indexed(i, r)) for i, r in enumerate(requests)]
        stop: BaseException | None = None
        try:
            for next_done in asyncio.as_completed(tasks):
                try:
                    index, result = await next_done
                except StopRun as exc:
                    stop = stop or exc
                    continue
                except Exception as exc:  # a plugin bug or a UserError: stop sending, keep what arrived
                    stop = stop or exc
                    self._stopped = self._stopped or _as_stop(exc)
                    continue
                yield index, result
        finally:
            for task in tasks:
                task.cancel()
        if stop is not None:
            raise stop

    async def aclose(self) -> None:
        """Close the teacher's connections (the cache belongs to the caller)."""
        await self.teacher.aclose()

    # -- internals -----------------------------------------------------------------------
    async def _complete_or_failed(self, request: TeacherRequest) -> Any:
        try:
            return await self.complete(request)
        except TeacherRequestFailed as failed:
            return failed

    async def _indexed(self, index: int, request: TeacherRequest) -> tuple[int, Any]:
        return index, await self._complete_or_failed(request)

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            s = self.settings
            self._state = _LoopState(
                loop=loop,
                semaphore=asyncio.Semaphore(s.concurrency),
                request_bucket=TokenBucket(s.requests_per_minute) if s.requests_per_minute else None,
                token_bucket=TokenBucket(s.tokens_per_minute) if s.tokens_per_minute else None,
            )
        return self._state

    async def _fetch(self, request: TeacherRequest, key: str, state: _LoopState) -> Completion:
        attempts = 0
        last: RetryableTeacherError | None = None
        while attempts < self.settings.max_attempts:
            if attempts:
                delay = self._backoff(attempts, last.retry_after if last else None)
                log.info("teacher %s: %s; retry %d in %.2fs", self.label, last, attempts, delay)
                await asyncio.sleep(delay)
            attempts += 1
            try:
                completion = await self._attempt(request, state, first=attempts == 1)
            except RetryableTeacherError as exc:
                last = exc
                if exc.retry_after:
                    self._resume_at = max(self._resume_at, time.monotonic() + exc.retry_after)
                continue
            except FatalTeacherError as exc:
                raise self._stop(TeacherStopped(f"teacher {self.label}: {exc}", exc.status)) from None
            if self.cache is not None:
                self.cache.put(key, completion)  # before anything else can fail: this response is paid for
            return completion
        self.usage.add(failed_requests=1)
        reason = str(last) if last else "no attempt made"
        log.warning("teacher %s: request failed after %d attempt(s): %s", self.label, attempts, reason)
        raise TeacherRequestFailed(request, attempts, reason, last.status if last else None)

    async def _attempt(self, request: TeacherRequest, state: _LoopState, *, first: bool) -> Completion:
        async with state.semaphore:
            if self._stopped is not None:
                raise self._stopped
            pause = self._resume_at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            prompt_estimate = estimate_prompt_tokens(request)
            estimated_tokens = prompt_estimate + request.max_tokens
            if state.request_bucket is not None:
                await state.request_bucket.acquire(1)
            if state.token_bucket is not None:
                await state.token_bucket.acquire(estimated_tokens)
            if self._stopped is not None:  # set while this request waited on a limit
                raise self._stopped
            reserved = self.cost(prompt_estimate, request.max_tokens)
            if self.budget is not None:
                try:
                    self.budget.reserve(reserved)
                except BudgetExceeded as exc:
                    raise self._stop(exc) from None
            token = self.usage.reserve(reserved, **({"requests": 1} if first else {"retries": 1}))
            spent = 0.0
            completion: Completion | None = None
            try:
                completion = await asyncio.wait_for(self.teacher.complete(request), self.settings.timeout_s)
                spent = self.cost(completion.prompt_tokens, completion.completion_tokens)
            except (asyncio.TimeoutError, TimeoutError):  # distinct classes before Python 3.11
                raise RetryableTeacherError(f"no answer within timeout_s={self.settings.timeout_s:g}") from None
            finally:
                if self.budget is not None:
                    self.budget.settle(reserved, spent)
                if completion is not None:
                    self.usage.settle(token, prompt_tokens=completion.prompt_tokens,
                                      completion_tokens=completion.completion_tokens, cost_usd=spent)
                else:  # failed or cancelled: an error reply is not billed
                    self.usage.settle(token)
        if state.token_bucket is not None:
            state.token_bucket.refund(estimated_tokens - completion.prompt_tokens - completion.completion_tokens)
        if completion.time_to_first_token_s is not None:
            self.usage.add_stream(completion)
        if is_empty_reply(completion):  # paid (counted above) but useless: retried, never cached
            raise RetryableTeacherError(EMPTY_REPLY)
        return completion

    async def _complete_batched(self, requests: Sequence[TeacherRequest]) -> list[Completion | TeacherRequestFailed]:
        """All cache misses of ``requests`` through the teacher's batch API, with the same cache, usage and
        budget accounting as single requests (:mod:`factory.batch_client`); results in request order."""
        from factory.batch_client import BatchedCall

        if self._stopped is not None:
            raise self._stopped
        return await BatchedCall(self, requests).run()

    def _backoff(self, retry: int, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, min(max, initial * 2**(retry-1))], never shorter than Retry-After."""
        s = self.settings
        delay = self._rng.uniform(0.0, min(s.backoff_max_s, s.backoff_initial_s * 2 ** (retry - 1)))
        if retry_after is not None:
            delay = max(delay, self._resume_at - time.monotonic(), 0.0)
        return delay

    def _stop(self, error: StopRun) -> StopRun:
        if self._stopped is None:
            self._stopped = error
        return self._stopped


def _as_stop(exc: BaseException) -> StopRun:
    stop = StopRun(f"teacher stopped: {exc}")
    stop.__cause__ = exc
    return stop


def _consume_exception(future: asyncio.Future) -> None:
    """Mark a shared future's exception as seen: the request's own caller already raised it."""
    if not future.cancelled():
        future.exception()
