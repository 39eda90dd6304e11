"""The translator plugin contract: a batch of texts in, translations and billing out.

The core (:mod:`factory.translation`) protects code, URLs and placeholders,
deduplicates, caches across runs and retries; a translator plugin only
translates the texts it is given, already masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from pydantic import BaseModel, Field

from factory.contracts import Plugin
from factory.costs import CharacterPrice


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


class TranslatorDescription(BaseModel):
    """What a translation engine is, in words a dataset card shows."""

    engine: str = Field(description="The engine: deepl, or the model an llm translator uses.")
    server: str = Field("", description="Where it runs (a host name; never a key).")
    settings: dict[str, Any] = Field(default_factory=dict, description="Output-changing settings: formality, glossary...")


class TranslatorProvenance(TranslatorDescription):
    """The manifest's record of a translator: plugin, description and identity."""

    plugin: str
    identity: dict[str, Any] = Field(default_factory=dict)


class Translator(Plugin):
    """Base class of translator plugins; built as ``cls(options)`` from the recipe's ``translate`` section.

    The translation service (:mod:`factory.translation`) plans requests within
    ``max_texts_per_request`` and ``max_request_bytes`` (one :meth:`translate` call is
    one request) and runs ``concurrency`` of them at once. An engine billed in tokens
    (the ``llm`` translator) defines ``bind(*, usage, budget)`` to account through the
    stage's counters and ``estimate_cost_usd(characters)`` for ``--estimate``.
    """

    kind: ClassVar[str] = "translator"
    #: Marker pair the engine keeps verbatim (e.g. XML tags it ignores), or None to mask spans with numbered markers.
    protect_markup: ClassVar[tuple[str, str] | None] = None
    max_texts_per_request: int = 50
    max_request_bytes: int = 128 * 1024
    concurrency: int = 1

    @classmethod
    def describe_for(cls, options: BaseModel) -> TranslatorDescription:
        return TranslatorDescription(engine=cls.__name__)

    @classmethod
    def price_for(cls, options: BaseModel) -> CharacterPrice:
        """USD per 1M billed characters; free unless the plugin knows its vendor's price."""
        return CharacterPrice()

    async def translate(self, texts: Sequence[str], source: str, target: str) -> TranslationResult:
        """Translate every text; raise RetryableTranslationError or TranslationQuotaExceeded."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections."""
