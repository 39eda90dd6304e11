"""The translator plugin contract: a batch of texts in, translations and billing out.

The core (:mod:`factory.translation`) protects code, URLs and placeholders,
deduplicates, caches across runs and retries; a translator plugin only
translates the texts it is given, already masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, Sequence


@dataclass
class TranslationResult:
    """One request's answer. A None text means the engine could not translate that text this
    time (e.g. an LLM reply that never parsed): the core rejects it as ``translation_failed``
    without caching, so a later run tries it again."""

    texts: list[str | None]
    billed_characters: int


class TranslationQuotaExceeded(Exception):
    """The account's quota is used up (DeepL 456): stop cleanly, keep what is done."""


class RetryableTranslationError(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Translator(Protocol):
    options_model: ClassVar[type]

    @property
    def identity(self) -> str:
        """Engine and options that change the output (no secrets); part of the cache key."""

    #: Marker pair the engine keeps verbatim (e.g. XML tags it ignores), or None to mask spans.
    protect_markup: ClassVar[tuple[str, str] | None]

    # Optional, read by factory.translation.TranslationService when present: the service plans
    # requests within these limits (one translate() call is one request) and runs `concurrency`
    # of them at once. Defaults: 50 texts, 128 KiB, 1. An engine billed in tokens may also define
    # `bind(*, usage, budget)` to account through the stage's counters.
    max_texts_per_request: int
    max_request_bytes: int
    concurrency: int

    async def translate(self, texts: Sequence[str], source: str, target: str) -> TranslationResult:
        """Translate every text; raise RetryableTranslationError or TranslationQuotaExceeded."""

    async def aclose(self) -> None: ...
