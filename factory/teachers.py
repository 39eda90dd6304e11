"""The teacher plugin contract: one async request in, text and usage out.

A teacher plugin only knows how to send one request to its model. The core
(:mod:`factory.teaching`) wraps every teacher with the same concurrency and
rate limits, retries, response cache, cost accounting and budget, so a new
teacher gets all of that by raising the right error class.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol


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

    def cache_key(self, teacher_identity: str) -> str:
        payload = {"teacher": teacher_identity, **asdict(self)}
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


class Teacher(Protocol):
    """What a teacher plugin's class provides.

    The registered class is built as ``cls(**options)`` from the recipe's
    ``teacher`` section (``options_model`` validates those options first).
    """

    options_model: ClassVar[type]

    @property
    def identity(self) -> str:
        """Model and endpoint kind, without secrets; part of every cache key."""

    async def complete(self, request: TeacherRequest) -> Completion:
        """Send one request; raise Retryable/FatalTeacherError on failure."""

    async def aclose(self) -> None:
        """Release connections and models."""
