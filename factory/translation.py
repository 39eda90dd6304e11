"""The translation stage's core: never pay twice, never lose paid work, never mangle code.

Translation engines bill per character, so everything around a translator
plugin lives here once:

- protected spans (code, URLs, placeholders...) are masked before sending
  and checked after (:mod:`factory.protect`); a text whose spans did not
  survive is sent once more, then rejected with ``protected_span_lost``;
- identical strings in a batch are sent once;
- a persistent SQLite cache in the user cache directory, shared by every run,
  keyed by engine identity (with its options), languages and source text; each
  text is written the moment its request returns, so a crash or a quota stop
  loses nothing that was paid for, and a rerun bills only what is missing;
- requests are planned within the engine's limits (texts and bytes per
  request) and run concurrently;
- retries with backoff on :class:`~factory.translators.RetryableTranslationError`
  (honouring Retry-After);
- billed characters, cost and the budget, reserved before each request.

Billed characters equal the prose characters of the unique, uncached source texts:
protected spans travel as empty tags that DeepL does not bill, and a text with
no prose (only spans) is never sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from factory.costs import Budget, Usage
from factory.errors import StopRun
from factory.protect import (SCHEME_VERSION, SPAN_LOST, MaskedText, ProtectedSpanLost, mask, restore_scheme_1,
                             reusable_from_scheme_1)
from factory.records import Record
from factory.sqlite_cache import SQLiteCache
from factory.teachers import TeacherRequest
from factory.translators import RetryableTranslationError, TranslationQuotaExceeded, TranslationResult

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "FACTORY_CACHE_DIR"
CACHE_FILE = "translations.sqlite"

#: Paid attempts per text before a text whose protected spans keep getting lost is rejected.
SPAN_ATTEMPTS = 2
#: Reason code of a single text larger than the engine's request size limit.
TEXT_TOO_LONG = "text_too_long"
#: Reason code of a text the engine could not translate (not cached: a later run tries again).
TRANSLATION_FAILED = "translation_failed"
#: Request-size planning: JSON overhead per text and per request, in bytes.
_PER_TEXT_OVERHEAD = 16
_PER_REQUEST_OVERHEAD = 1024


def default_cache_dir() -> Path:
    """``$FACTORY_CACHE_DIR``, else the platform's user cache directory for ``factory``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("factory"))


# -- cache ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedTranslation:
    """An engine's raw (still masked) output and how many paid attempts produced it."""

    output: str
    attempts: int


class TranslationCache(SQLiteCache):
    """Engine outputs by (engine identity, languages, source text) in SQLite, committed per write.

    The raw masked output is stored, not the restored text, so the span check
    runs again on every read and a bad output can never slip through a cache.
    WAL mode (see :class:`SQLiteCache`) lets several runs share one file.
    """

    table = "translations"
    what = "translation cache"

    def __init__(self, path: str | Path | None = None):
        path = Path(path) if path is not None else default_cache_dir() / CACHE_FILE
        super().__init__(
            path,
            "CREATE TABLE IF NOT EXISTS translations (key TEXT PRIMARY KEY, engine TEXT NOT NULL, "
            "source_lang TEXT NOT NULL, target_lang TEXT NOT NULL, source_text TEXT NOT NULL, "
            "output TEXT NOT NULL, attempts INTEGER NOT NULL, created REAL NOT NULL)",
            busy_timeout_s=30.0,
        )

    @staticmethod
    def key(engine: str, source: str, target: str, text: str, scheme: str = SCHEME_VERSION) -> str:
        blob = json.dumps([engine, scheme, source.lower(), target.lower(), text], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> CachedTranslation | None:
        row = self._fetch_one("SELECT output, attempts FROM translations WHERE key = ?", (key,))
        return CachedTranslation(row[0], int(row[1])) if row else None

    def put(self, key: str, *, engine: str, source: str, target: str, text: str, output: str, attempts: int) -> None:
        self._write(
            "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, engine, source.lower(), target.lower(), text, output, attempts, time.time()),
        )


# -- stops ------------------------------------------------------------------------------------


class TranslationQuotaStop(StopRun):
    """The engine's quota is used up; everything translated so far is in the cache."""


class TranslationUnavailable(StopRun):
    """The engine kept failing (429/5xx/timeouts) after every retry."""


# -- service ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Translated:
    """One text's outcome: the translation, or None and a reason code.

    ``unchanged``: the engine returned the text as it was although it had prose to translate (a
    translation QA filter flags such records); texts with nothing to translate are never unchanged.
    """

    text: str | None
    reason: str | None = None
    unchanged: bool = False


def _translated(job: "_Job", restored: str) -> Translated:
    return Translated(restored, unchanged=restored.strip() == job.text.strip())


@dataclass(frozen=True)
class CharacterEstimate:
    """What translating would bill, before spending anything (``factory run --estimate``)."""

    texts: int  # non-empty texts, repeats included
    characters: int  # their characters
    unique_texts: int
    cached_texts: int  # unique texts the cache already answers
    billable_characters: int  # characters of unique, uncached texts: what the engine will bill
    cost_usd: float


@dataclass
class _Job:
    text: str
    masked: MaskedText
    key: str
    attempts: int = 0
    source: str = ""
    target: str = ""


class TranslationService:
    """Drives one translator plugin with protection, dedupe, cache, retries, cost and budget.

    The translator may declare ``max_texts_per_request``, ``max_request_bytes``
    and ``concurrency`` (the service plans requests within them) and a
    ``bind(usage=..., budget=...)`` method (engines billed in tokens, such as
    the ``llm`` translator, account through the same counters).
    """

    def __init__(
        self,
        translator: Any,
        *,
        cache: TranslationCache | None,
        usage: Usage,
        budget: Budget | None = None,
        price_per_million_chars: float = 0.0,
        max_attempts: int = 5,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        close_cache: bool = False,
    ):
        self.translator = translator
        self.cache = cache
        self._close_cache = close_cache
        self.usage = usage
        self.budget = budget
        self.price_per_million_chars = float(price_per_million_chars or 0.0)
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.rejections: Counter[str] = Counter()
        self._sleep = sleep
        self._rng = random.Random()
        bind = getattr(translator, "bind", None)
        #: An engine that binds to the usage counts its own requests and retries (in tokens).
        self._counts_requests = not callable(bind)
        if callable(bind):
            bind(usage=usage, budget=budget)

    # -- properties of the engine ------------------------------------------------------------
    @property
    def identity(self) -> dict[str, Any]:
        """The engine's identity (what changes its output); its digest keys the translation cache."""
        return self.translator.identity

    @property
    def label(self) -> str:
        d = type(self.translator).describe_for(self.translator.options)
        return d.engine + (f"@{d.server}" if d.server else "")

    @property
    def markup(self) -> tuple[str, str] | None:
        return getattr(self.translator, "protect_markup", None)

    def _limits(self) -> tuple[int, int, int]:
        texts = int(getattr(self.translator, "max_texts_per_request", 50) or 50)
        size = int(getattr(self.translator, "max_request_bytes", 128 * 1024) or 128 * 1024)
        concurrency = int(getattr(self.translator, "concurrency", 1) or 1)
        return max(1, texts), max(1, size), max(1, concurrency)

    def cost(self, characters: int) -> float:
        return characters * self.price_per_million_chars / 1_000_000

    # -- estimate ----------------------------------------------------------------------------
    def estimate(self, texts: Sequence[str], source: str, target: str) -> CharacterEstimate:
        """Characters the engine would bill for ``texts`` now: unique texts the cache cannot answer."""
        present = [t for t in texts if t.strip()]
        unique = list(dict.fromkeys(present))
        cached = 0
        billable = 0
        for text in unique:
            job = self._job(text, source, target)
            if not job.masked.has_prose:
                continue  # nothing to translate: never sent
            if self._from_cache(job, count=False) is not None:
                cached += 1
            else:
                billable += job.masked.billable_characters
        return CharacterEstimate(
            texts=len(present),
            characters=sum(len(t) for t in present),
            unique_texts=len(unique),
            cached_texts=cached,
            billable_characters=billable,
            cost_usd=self._estimated_cost(billable),
        )

    def _estimated_cost(self, characters: int) -> float:
        """Character price, or the engine's own estimate when it bills otherwise (tokens)."""
        engine_estimate = getattr(self.translator, "estimate_cost_usd", None)
        if callable(engine_estimate):
            return float(engine_estimate(characters))
        return self.cost(characters)

    def estimate_characters(
        self, records: Sequence[Record], fields: Sequence[str], source: str, target: str
    ) -> CharacterEstimate:
        """:meth:`estimate` over the chosen fields of ``records``."""
        return self.estimate([t for r in records for f in fields for t in record_texts(r, f)], source, target)

    # -- translate ---------------------------------------------------------------------------
    async def translate_texts(self, texts: Sequence[str], source: str, target: str) -> list[str | None]:
        """Translations in input order; None where a text was rejected (see :meth:`translate_detailed`)."""
        return [outcome.text for outcome in await self.translate_detailed(texts, source, target)]

    async def translate_detailed(self, texts: Sequence[str], source: str, target: str) -> list[Translated]:
        """Translate ``texts``; empty and whitespace-only texts, and texts with no letters outside their protected
        spans (a fenced block, a URL, ``<noinput>``), come back unchanged, unsent and unbilled.

        Raises :class:`TranslationQuotaStop`, :class:`TranslationUnavailable` or
        :class:`~factory.costs.BudgetExceeded` (all :class:`~factory.errors.StopRun`)
        after the requests already in flight have finished and been cached.
        """
        outcomes: dict[str, Translated] = {}
        pending: list[_Job] = []
        for text in dict.fromkeys(t for t in texts if t.strip()):
            job = self._job(text, source, target)
            if not job.masked.has_prose:  # only protected spans, markers, digits or punctuation: kept as it is
                outcomes[text] = Translated(text)
                continue
            hit = self._from_cache(job, count=True)
            if hit is not None:
                outcomes[text] = hit
            else:
                pending.append(job)
        _, max_bytes, _ = self._limits()
        sendable: list[_Job] = []
        for job in pending:
            if len(job.masked.text.encode("utf-8")) + _PER_TEXT_OVERHEAD + _PER_REQUEST_OVERHEAD > max_bytes:
                outcomes[job.text] = self._reject(TEXT_TOO_LONG)
            else:
                sendable.append(job)
        while sendable:
            retry: list[_Job] = []
            for job, output in await self._send_all(sendable, source, target):
                if output is None:
                    outcomes[job.text] = self._reject(TRANSLATION_FAILED)
                    continue
                try:
                    outcomes[job.text] = _translated(job, job.masked.restore(output))
                except ProtectedSpanLost as exc:
                    if job.attempts < SPAN_ATTEMPTS:
                        log.info("translation lost a protected span (%s); sending again", exc)
                        retry.append(job)
                    else:
                        outcomes[job.text] = self._reject(SPAN_LOST)
            sendable = retry
        return [outcomes[t] if t.strip() else Translated(t) for t in texts]

    async def aclose(self) -> None:
        """Close the translator, and the cache when this service owns it (``close_cache``)."""
        try:
            await self.translator.aclose()
        finally:
            if self._close_cache and self.cache is not None:
                self.cache.close()

    # -- internals ---------------------------------------------------------------------------
    def _job(self, text: str, source: str, target: str) -> _Job:
        return _Job(text, mask(text, self.markup), TranslationCache.key(self.translator.identity_key, source, target, text),
                    source=source, target=target)

    def _reject(self, reason: str) -> Translated:
        self.rejections[reason] += 1
        return Translated(None, reason)

    def _from_cache(self, job: _Job, *, count: bool) -> Translated | None:
        """The cached outcome of ``job``, or None when it must be sent (attempts carried into ``job``)."""
        if self.cache is None:
            return None
        hit = self.cache.get(job.key)
        restore = job.masked.restore
        if hit is None and reusable_from_scheme_1(job.text):  # paid for before the masking changed: still right
            hit = self.cache.get(TranslationCache.key(self.translator.identity_key, job.source, job.target, job.text,
                                                      scheme="1"))
            restore = partial(restore_scheme_1, job.masked)
        if hit is None:
            return None
        job.attempts = hit.attempts
        try:
            restored = restore(hit.output)
        except ProtectedSpanLost:
            if hit.attempts < SPAN_ATTEMPTS:
                return None
            return self._reject(SPAN_LOST) if count else Translated(None, SPAN_LOST)
        if count:
            self.usage.add(cached_characters=len(job.text))
        return _translated(job, restored)

    def _plan(self, jobs: Sequence[_Job]) -> list[list[_Job]]:
        max_texts, max_bytes, _ = self._limits()
        chunks: list[list[_Job]] = []
        current: list[_Job] = []
        size = _PER_REQUEST_OVERHEAD
        for job in jobs:
            job_size = len(job.masked.text.encode("utf-8")) + _PER_TEXT_OVERHEAD
            if current and (len(current) >= max_texts or size + job_size > max_bytes):
                chunks.append(current)
                current, size = [], _PER_REQUEST_OVERHEAD
            current.append(job)
            size += job_size
        if current:
            chunks.append(current)
        return chunks

    async def _send_all(self, jobs: Sequence[_Job], source: str, target: str) -> list[tuple[_Job, str | None]]:
        """Send every job in planned requests, ``concurrency`` at a time.

        On a stop (quota, budget, engine down, any error) no new request is
        started; requests in flight finish and are cached; then it is raised.
        """
        chunks = iter(self._plan(jobs))
        _, _, concurrency = self._limits()
        returned: list[tuple[_Job, str | None]] = []
        stop: list[BaseException] = []

        async def worker() -> None:
            while not stop:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                try:
                    outputs = await self._send(chunk, source, target, stop)
                except BaseException as exc:  # noqa: BLE001 - re-raised below, after in-flight work is saved
                    stop.append(exc)
                    return
                returned.extend(zip(chunk, outputs))

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
        if stop:
            raise stop[0]
        return returned

    async def _send(self, chunk: list[_Job], source: str, target: str, stop: list[BaseException]) -> list[str | None]:
        characters = sum(len(job.text) for job in chunk)
        estimate = self.cost(characters)
        attempt = 0
        while True:
            attempt += 1
            if self.budget is not None:
                self.budget.reserve(estimate)
            counts = ({"requests": 1} if attempt == 1 else {"retries": 1}) if self._counts_requests else {}
            token = self.usage.reserve(estimate, **counts)
            spent = 0.0
            result: TranslationResult | None = None
            try:
                result = await self.translator.translate([job.masked.text for job in chunk], source, target)
                if len(result.texts) != len(chunk):
                    raise RetryableTranslationError(
                        f"engine returned {len(result.texts)} translations for {len(chunk)} texts"
                    )
                spent = self.cost(result.billed_characters)
            except RetryableTranslationError as exc:
                result = None
                if attempt >= self.max_attempts or stop:
                    if self._counts_requests:
                        self.usage.add(failed_requests=1)
                    if stop:
                        raise stop[0] from None
                    raise TranslationUnavailable(
                        f"translator {self.label} still failing after {attempt} attempt(s): {exc}. "
                        f"Everything translated so far is cached; rerun the same command to resume."
                    ) from None
                delay = self._backoff(attempt, exc.retry_after)
                log.info("translator %s: %s; retry %d in %.2fs", self.label, exc, attempt, delay)
                await self._sleep(delay)
                continue
            except TranslationQuotaExceeded as exc:
                result = None
                raise self._quota_stop(exc) from None
            finally:
                if self.budget is not None:
                    self.budget.settle(estimate, spent)
                if result is not None:
                    self.usage.settle(token, billed_characters=result.billed_characters, cost_usd=spent)
                else:  # refused, failed or cancelled: nothing billed
                    self.usage.settle(token)
            break
        for job, output in zip(chunk, result.texts):
            if output is None:
                continue
            job.attempts += 1
            if self.cache is not None:  # paid for: saved before anything else can fail
                self.cache.put(
                    job.key, engine=self.label, source=source, target=target,
                    text=job.text, output=output, attempts=job.attempts,
                )
        return list(result.texts)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Jittered exponential backoff, never shorter than the server's Retry-After."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (attempt - 1))
        delay = self._rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        return delay

    def _quota_stop(self, exc: BaseException) -> TranslationQuotaStop:
        where = f" in {self.cache.path}" if self.cache is not None else ""
        return TranslationQuotaStop(
            f"translator {self.label}: quota exhausted ({exc}). {self.usage.billed_characters} characters "
            f"billed so far in this stage; every finished translation is saved{where}. Raise the quota (or wait "
            f"for the next billing period) and rerun the same command: cached translations are reused and only "
            f"the remaining texts are sent."
        )


# -- records ----------------------------------------------------------------------------------

_REGENERATE_SYSTEM = (
    "You write answers for an instruction-following dataset in {language}. Read the task and answer it "
    "well, entirely in {language}. Keep code, URLs, e-mail addresses, numbers and placeholders exactly as "
    "written. Reply with the answer only: no preamble, no restating the task."
)
_NO_INPUT = {"", "<noinput>", "<no input>"}


def regenerate_request(
    instruction: str, input: str, language_name: str, *, max_tokens: int = 1024, temperature: float = 0.7
) -> TeacherRequest:
    """The chat request that asks a teacher for a record's output in the target language."""
    user = instruction if input.strip() in _NO_INPUT else f"{instruction}\n\n{input}"
    return TeacherRequest(
        messages=(("system", _REGENERATE_SYSTEM.format(language=language_name)), ("user", user)),
        max_tokens=max_tokens,
        temperature=temperature,
    )


def _language_name(language: Any, target: str) -> str:
    name = getattr(language, "name", None)
    if isinstance(name, str) and name:
        return name
    if isinstance(language, str) and language:
        return language
    return target


async def translate_records(
    records: Sequence[Record],
    fields: Sequence[str],
    service: TranslationService,
    source: str,
    target: str,
    regenerate_output: bool = False,
    teacher_client: Any | None = None,
    language: Any | None = None,
    *,
    max_output_tokens: int = 1024,
    temperature: float = 0.7,
) -> list[tuple[Record | None, str | None]]:
    """Translate the chosen fields of ``records``; optionally regenerate outputs with a teacher.

    Returns one ``(record, None)`` or ``(None, reason)`` per input record, in
    order. With ``regenerate_output`` the ``output`` field is not translated:
    the teacher (a :class:`factory.teaching.TeacherClient`) answers the
    translated instruction and input in the target language (``language``: a
    Language plugin instance or a language name). StopRun errors propagate;
    everything already paid for is cached by then.
    """
    if regenerate_output and teacher_client is None:
        raise ValueError("regenerate_output needs a teacher_client")
    from factory.translation_qa import normalise_input

    chosen = [f for f in dict.fromkeys(fields) if not (regenerate_output and f == "output")]
    if "turns" in chosen:
        return await translate_turns(records, service, source, target)
    flat = [normalise_input(record.input, source) if f == "input" else getattr(record, f)
            for record in records for f in chosen]  # a <noinput> input is no input: never sent
    outcomes = await service.translate_detailed(flat, source, target)

    results: list[tuple[Record | None, str | None]] = []
    for index, record in enumerate(records):
        mine = outcomes[index * len(chosen) : (index + 1) * len(chosen)]
        failed = next((o.reason for o in mine if o.text is None), None)
        if failed is not None:
            results.append((None, failed))
            continue
        values = {f: o.text for f, o in zip(chosen, mine)}
        meta = dict(record.meta)
        meta["translation"] = {
            "translator": service.label,
            "source_id": record.id,
            "source_language": source,
            "target_language": target,
            "fields": chosen,
            "output": "regenerated" if regenerate_output else ("translated" if "output" in chosen else "kept"),
        }
        unchanged = [f for f, o in zip(chosen, mine) if o.unchanged]
        if unchanged:  # returned as sent although it had prose: the translation_qa filter flags it
            meta["translation"]["unchanged"] = unchanged
        translated = Record.from_alpaca(
            instruction=values.get("instruction", record.instruction),
            input=values.get("input", normalise_input(record.input, source)),
            output=values.get("output", record.output),
            id=record.id,
            meta=meta,
        )
        results.append((translated, None))

    if not regenerate_output:
        return results
    waiting = [i for i, (record, _) in enumerate(results) if record is not None]
    answers = await regenerate_outputs([results[i][0] for i in waiting], teacher_client, language, target,  # type: ignore[misc]
                                       max_output_tokens=max_output_tokens, temperature=temperature)
    for i, answer in zip(waiting, answers):
        results[i] = answer
    return results


async def translate_turns(records: Sequence[Record], service: TranslationService, source: str,
                          target: str) -> list[tuple[Record | None, str | None]]:
    """Translate every turn of each conversation (KoVicuna), each turn its own text: its code, URLs and
    placeholders protected, cached and billed once across runs. One failed turn rejects the conversation (a
    conversation with one untranslated turn would teach a mixed language). Preference texts are turns too."""
    flat = [m["content"] for record in records for m in record.messages]
    flat += [t for record in records for t in (record.chosen, record.rejected) if t is not None]
    outcomes = iter(await service.translate_detailed(flat, source, target))
    per_record = [[next(outcomes) for _ in record.messages] for record in records]
    extras = [[next(outcomes) if t is not None else None for t in (r.chosen, r.rejected)] for r in records]
    results: list[tuple[Record | None, str | None]] = []
    for record, mine, extra in zip(records, per_record, extras):
        failed = next((o.reason for o in [*mine, *(e for e in extra if e)] if o.text is None), None)
        if failed is not None:
            results.append((None, failed))
            continue
        translated = record.copy()
        for turn, outcome in zip(translated.messages, mine):
            turn["content"] = outcome.text
        translated.chosen, translated.rejected = (e.text if e else None for e in extra)
        translated.meta["translation"] = {"translator": service.label, "source_id": record.id,
                                          "source_language": source, "target_language": target, "fields": ["turns"],
                                          "turns": len(mine), "output": "translated"}
        unchanged = [i for i, o in enumerate(mine) if o.unchanged]
        if unchanged:
            translated.meta["translation"]["unchanged_turns"] = unchanged
        results.append((translated, None))
    return results


def record_texts(record: Record, field: str) -> list[str]:
    """What translating ``field`` of ``record`` sends: the field, or every turn for ``turns``."""
    if field == "turns":
        return [m["content"] for m in record.messages] + [t for t in (record.chosen, record.rejected) if t is not None]
    return [getattr(record, field)]


async def regenerate_outputs(
    records: Sequence[Record],
    teacher_client: Any,
    language: Any | None,
    target: str,
    *,
    max_output_tokens: int = 1024,
    temperature: float = 0.7,
) -> list[tuple[Record | None, str | None]]:
    """Ask the teacher for each record's output in the target language (KoAlpaca v1.0's approach).

    The engine calls this after the near-duplicate filter, so no output is paid for a record that
    is dropped anyway. Returns ``(record, None)`` or ``(None, reason)`` per record, in order.
    """
    name = _language_name(language, target)
    requests = [regenerate_request(r.instruction, r.input, name, max_tokens=max_output_tokens, temperature=temperature)
                for r in records]
    answers = await teacher_client.complete_many(requests)
    results: list[tuple[Record | None, str | None]] = []
    for record, answer in zip(records, answers):
        if not hasattr(answer, "finish_reason"):  # TeacherRequestFailed
            results.append((None, "teacher_failed"))
        elif answer.finish_reason == "length":
            results.append((None, "output_truncated"))
        elif not answer.text.strip():
            results.append((None, "empty_output"))
        else:
            record.output = answer.text.strip()
            record.meta["teacher"] = teacher_client.label
            if isinstance(record.meta.get("translation"), dict):
                record.meta["translation"]["output"] = "regenerated"
            results.append((record, None))
    return results


# -- wiring for the engine ----------------------------------------------------------------------


def build_translation_service(ctx: Any, stage: str) -> TranslationService:
    """The service for the recipe's ``translate`` section, counting into ``ctx.usage_for(stage)``.

    The price comes from ``price_per_million_chars`` or the translator plugin's own
    ``price_for(options)``. The service owns its cache.
    """
    section = ctx.recipe.translate
    config = ctx.loaded.plugin("translate")
    translator = config.build()
    price = section.price_per_million_chars
    if price is None:
        price = config.cls.price_for(config.options).per_1m_characters
    return TranslationService(
        translator,
        cache=TranslationCache(),
        usage=ctx.usage_for(stage),
        budget=ctx.budget,
        price_per_million_chars=price,
        max_attempts=section.max_attempts,
        backoff_initial_s=section.backoff_initial_s,
        close_cache=True,
    )


def translated_fields(section: Any) -> list[str]:
    """The fields the translator gets: all chosen ones, except ``output`` when it is regenerated."""
    return [f for f in dict.fromkeys(section.fields) if not (section.regenerate_output and f == "output")]


def estimate_translation(ctx: Any) -> list[tuple[str, str, float]]:
    """``(label, value, cost_usd)`` lines for ``factory run --estimate``; nothing is sent."""
    section = ctx.recipe.translate
    source, target = section.source_lang, section.target_lang or ctx.recipe.language
    fields = translated_fields(section)
    service = build_translation_service(ctx, "estimate")
    try:
        records = [r for r in ctx.source_records if r.id not in ctx.source_rejections]
        est = service.estimate_characters(records, fields, source, target)
        identity = service.label
        price = service.price_per_million_chars
    finally:
        if service.cache is not None:
            service.cache.close()
    price_note = f"${price:g}/1M characters" if price else "billed in tokens or free"
    return [
        ("translator", f"{section.plugin} {source}->{target}, fields {', '.join(fields)} ({price_note})", 0.0),
        ("translator", identity, 0.0),
        ("texts to translate", f"{est.texts:,} ({est.characters:,} characters, {est.unique_texts:,} unique)", 0.0),
        ("already in the translation cache", f"{est.cached_texts:,} unique texts", 0.0),
        ("characters to bill", f"{est.billable_characters:,} (unique, uncached)", 0.0),
        ("translation cost", f"${est.cost_usd:.4f}", est.cost_usd),
    ]
