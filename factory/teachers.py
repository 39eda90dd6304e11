"""The teacher plugin contract: one async request in, text and usage out.

A teacher plugin only knows how to send one request to its model. The core
(:mod:`factory.teaching`) wraps every teacher with the same concurrency and
rate limits, retries, response cache, cost accounting and budget, so a new
teacher gets all of that by raising the right error class.

A teacher class subclasses :class:`Teacher` and declares, from its options
alone (nothing is built for validation, fingerprints or ``--estimate``):
``identity_for`` (what changes outputs; part of every cache key),
``describe_for`` (model and endpoint, for the manifest and the dataset card),
``price_for`` (USD per 1M tokens) and ``requirements_for`` (packages, keys).

A teacher whose vendor has a batch API may also take many requests at once (see
:class:`Teacher`); the core then gives it a :class:`~factory.batch_journal.BatchJournal`
to record what it submitted, so a killed run resumes the same batches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from pydantic import BaseModel, Field

from factory.contracts import Plugin
from factory.costs import TokenPrice

if TYPE_CHECKING:
    from factory.batch_journal import BatchJournal


@dataclass(frozen=True)
class ResponseSchema:
    """The JSON schema a reply must follow (structured outputs); built by :mod:`factory.structured`.

    ``schema`` is the schema's canonical JSON text (sorted keys), so a request
    stays hashable and its cache key stable. A teacher sends it where its
    server supports schema-constrained decoding and ignores it otherwise; the
    caller validates the reply either way.
    """

    name: str
    schema: str
    strict: bool = True

    def as_dict(self) -> dict[str, Any]:
        return json.loads(self.schema)


@dataclass(frozen=True)
class TeacherRequest:
    """A full request; its canonical JSON is the response-cache key.

    Set ``prompt`` for completions-style prompting (base models) or
    ``messages`` for chat models.
    """

    prompt: str | None = None
    messages: tuple[tuple[str, str], ...] | None = None  # (role, content)
    max_tokens: int = 1024
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()  # extra_body items, sorted
    #: Distinguishes requests that are otherwise identical but should get their own sampled answer
    #: (self-instruct may draw the same demonstrations twice). Part of the cache key; never sent.
    sample: str = ""
    #: the reply must be JSON following this schema (``factory.structured``); None for free text
    response_schema: ResponseSchema | None = None

    def cache_key(self, teacher_identity: str) -> str:
        """Digest of this request under a teacher's identity key (:attr:`Teacher.identity_key`)."""
        payload = {"teacher": teacher_identity, **asdict(self)}
        if payload["response_schema"] is None:  # fields added later stay out of the key when unset: old caches still hit
            del payload["response_schema"]
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def chat_messages(self) -> list[dict[str, str]]:
        if self.messages is not None:
            return [{"role": role, "content": content} for role, content in self.messages]
        return [{"role": "user", "content": self.prompt or ""}]


@dataclass
class Completion:
    """What a teacher returns for one request."""

    text: str
    finish_reason: str  # "stop", "length", ...
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    #: streamed replies only: seconds from sending the request to the first text, and from there to the end
    time_to_first_token_s: float | None = None
    generation_s: float | None = None


class TeacherError(Exception):
    """Base class of teacher failures."""


class RetryableTeacherError(TeacherError):
    """Rate limit, 5xx, timeout, connection or malformed-body error: worth retrying.

    ``retry_after`` (seconds) is honoured when the server sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class FatalTeacherError(TeacherError):
    """Authentication, unknown model, bad request: stop the run at once."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class TeacherDescription(BaseModel):
    """What a teacher is, in words a dataset card shows."""

    model: str = Field(description="The model's name as the endpoint knows it, or the local model's source.")
    endpoint_kind: str = Field(description="How it is reached: chat, completions, local ...")
    endpoint: str = Field("", description="Where: a server address (no secrets), or the device of a local model.")


class TeacherProvenance(TeacherDescription):
    """The manifest's record of a teacher: plugin, description and identity."""

    plugin: str
    identity: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.plugin}:{self.model}" + (f"@{self.endpoint}" if self.endpoint else "")


class Teacher(Plugin):
    """Base class of teacher plugins; built as ``cls(options)`` from the recipe's ``teacher`` section.

    Batch mode (optional). A teacher whose ``batch_mode`` attribute is True
    also provides ``async complete_batch(jobs, journal)``. ``jobs`` is a
    sequence of ``(custom_id, request)`` pairs (the custom id is the request's
    cache key: unique, and the same in a resumed run); the result maps each
    custom id to a :class:`Completion` or to the Retryable/FatalTeacherError
    that request met (a missing id counts as retryable). The core sends every
    cache miss of one ``TeacherClient.complete_many`` call in one
    ``complete_batch`` call, caches and accounts each result as it would a
    single request, and resubmits only the retryable failures (up to
    ``max_attempts``). The teacher records what it submitted in ``journal``
    (:class:`~factory.batch_journal.BatchJournal`, stored beside the response
    cache) *before* waiting on it, looks there first for custom ids already in
    a batch, and polls that batch instead of submitting them again. It may
    raise RetryableTeacherError (nothing was submitted) or FatalTeacherError
    for the whole call. ``journal.report(line)`` shows batch states to the user.
    :class:`BatchTeacher` spells this out.
    """

    kind: ClassVar[str] = "teacher"
    #: True when requests go through the vendor's batch API (``complete_batch``)
    batch_mode: bool = False

    @classmethod
    def describe_for(cls, options: BaseModel) -> TeacherDescription:
        """Model and endpoint for these options (override: the default only knows a ``model`` option)."""
        return TeacherDescription(model=str(getattr(options, "model", "") or cls.__name__), endpoint_kind="unknown")

    @classmethod
    def price_for(cls, options: BaseModel) -> TokenPrice:
        """USD per 1M prompt/completion tokens; free unless the plugin knows its vendor's price."""
        return TokenPrice()

    @property
    def label(self) -> str:
        """A short human name for log lines (no secrets)."""
        d = type(self).describe_for(self.options)
        return f"{d.endpoint_kind}:{d.model}" + (f"@{d.endpoint}" if d.endpoint else "")

    async def complete(self, request: TeacherRequest) -> Completion:
        """Send one request; raise Retryable/FatalTeacherError on failure."""
        raise NotImplementedError

    def endpoint_stats(self) -> list[dict[str, Any]]:
        """Per-endpoint counts of a teacher that spreads requests over several servers (stats.json
        ``endpoints``): each a mapping with at least ``url`` and ``requests``; empty for one server."""
        return []

    async def aclose(self) -> None:
        """Release connections and models."""


class BatchTeacher(Teacher):
    """A teacher with a batch mode (see :class:`Teacher`); the core uses it when ``batch_mode`` is True."""

    async def complete_batch(self, jobs: Sequence[tuple[str, TeacherRequest]], journal: "BatchJournal"
                             ) -> Mapping[str, Completion | TeacherError]:
        """Run every job through the vendor's batch API; the result of each custom id."""
        raise NotImplementedError
