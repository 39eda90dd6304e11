"""The ``deepl`` translator: DeepL's API through the official ``deepl`` client.

One :meth:`DeepLTranslator.translate` call is one ``/v2/translate`` request;
the core (:mod:`factory.translation`) plans requests within
``max_texts_per_request`` and ``max_request_bytes``, dedupes, caches and
retries. This class maps DeepL's failures onto the core's error classes:
429, 5xx and timeouts are retryable (the client's own retries are turned off
so that the core's retries, backoff and accounting apply), 456 means the
quota is used up. Protected spans arrive wrapped in ``<keep>`` tags, sent
with ``tag_handling=xml`` and ``ignore_tags=keep`` so DeepL leaves them alone
and does not bill the tags.

The ``deepl`` client is synchronous: each request runs in a worker thread,
with one client per thread (a requests session is not meant to be shared
across threads) and at most ``concurrency`` requests at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, ClassVar, Literal, Sequence
from urllib.parse import urlsplit

import pydantic
from pydantic import Field

from factory import __version__ as factory_version
from factory.contracts import Options, Requirement, env_option, path_option, runtime
from factory.costs import CharacterPrice
from factory.errors import StopRun, UserError
from factory.translators import (RetryableTranslationError, TranslationQuotaExceeded, TranslationResult, Translator,
                                 TranslatorDescription)

from factory_deepl.glossary import ensure_glossary, entries_digest, glossary_name, load_glossary_file

#: DeepL's documented limits for one text-translation request.
DEEPL_MAX_TEXTS = 50
DEEPL_MAX_REQUEST_BYTES = 128 * 1024
KEEP_TAG = "keep"
#: DeepL API Pro's usage price, USD per 1M characters.
DEEPL_USD_PER_1M_CHARACTERS = 25.00
#: Target codes DeepL only accepts with a region; a bare code gets this variant.
_TARGET_VARIANTS = {"EN": "EN-US", "PT": "PT-BR"}


class DeepLOptions(Options):
    """The recipe's ``translate`` options for the ``deepl`` translator (languages are core keys)."""

    auth_key_env: str = env_option(
        "DEEPL_AUTH_KEY", min_length=1, description="Environment variable holding the DeepL API key (never the key itself)."
    )
    server_url: str | None = Field(
        None,
        description="API base URL, e.g. a DeepL-compatible server; unset: DeepL's own (Free or Pro, chosen from the key).",
    )
    formality: Literal["default", "more", "less", "prefer_more", "prefer_less"] | None = Field(
        None,
        description="Formality of the translation. Only some target languages support more/less; "
        "prefer_more/prefer_less fall back silently where unsupported (Korean is one).",
    )
    glossary: str | None = path_option(
        None,
        description="TSV or CSV file of 'source,target' term pairs; created on the DeepL server once (named after "
        "its entries) and reused by later runs.",
    )
    max_texts_per_request: int = runtime(DEEPL_MAX_TEXTS, ge=1, le=DEEPL_MAX_TEXTS, description="Texts per request (DeepL allows 50).")
    max_request_bytes: int = runtime(
        DEEPL_MAX_REQUEST_BYTES, ge=4096, le=DEEPL_MAX_REQUEST_BYTES, description="Request body size limit (DeepL allows 128 KiB)."
    )
    concurrency: int = runtime(4, ge=1, le=64, description="Requests in flight at once.")
    timeout_s: float = runtime(30.0, gt=0, description="Seconds one request may take before it is abandoned and retried.")


def server_of(options: DeepLOptions) -> str:
    """The server translations come from: the configured one, or DeepL's own API (Free and Pro alike)."""
    if options.server_url:
        split = urlsplit(options.server_url)
        return (split.hostname or options.server_url) + (f":{split.port}" if split.port else "")
    return "api.deepl.com"


def deepl_source_code(code: str) -> str:
    """DeepL source languages carry no region (``en-us`` -> ``EN``)."""
    return code.upper().split("-")[0]


def deepl_target_code(code: str) -> str:
    upper = code.upper()
    return _TARGET_VARIANTS.get(upper, upper)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _HeaderWatchingAdapter(watch: Any) -> Any:  # noqa: N802 - builds a class lazily (requests is imported late)
    """A requests transport adapter that shows each response to ``watch`` (the deepl client hides headers)."""
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            response = super().send(request, *args, **kwargs)
            watch(response)
            return response

    return Adapter()


class DeepLTranslator(Translator):
    """DeepL through the official client; built as ``DeepLTranslator(options)``."""

    options_model: ClassVar[type[pydantic.BaseModel]] = DeepLOptions
    protect_markup: ClassVar[tuple[str, str] | None] = (f"<{KEEP_TAG}>", f"</{KEEP_TAG}>")

    @classmethod
    def price_for(cls, options: DeepLOptions) -> CharacterPrice:
        """DeepL API Pro's list price per character (the Free plan's quota is not a price)."""
        return CharacterPrice(DEEPL_USD_PER_1M_CHARACTERS)

    @classmethod
    def identity_for(cls, options: DeepLOptions) -> dict[str, Any]:
        """Server, formality and the glossary's entries (not its path); the key and limits are runtime."""
        glossary = entries_digest(load_glossary_file(options.glossary)) if options.glossary else None
        server = (options.server_url or "https://api.deepl.com").rstrip("/")
        return {"server_url": server, "formality": options.formality or "default", "glossary": glossary,
                "tags": f"xml:{KEEP_TAG}"}

    @classmethod
    def describe_for(cls, options: DeepLOptions) -> TranslatorDescription:
        settings = {"formality": options.formality or "default"}
        if options.glossary:
            settings["glossary"] = glossary_name(options.glossary, load_glossary_file(options.glossary))
        return TranslatorDescription(engine="deepl", server=server_of(options), settings=settings)

    @classmethod
    def requirements_for(cls, options: DeepLOptions) -> list[Requirement]:
        return [Requirement(module="deepl", install="pip install koalpaca-factory-deepl", why="translator deepl"),
                Requirement(env=options.auth_key_env, install=f"export {options.auth_key_env}=<your DeepL API key>",
                            why="translator deepl")]

    def setup(self) -> None:
        self.max_texts_per_request = self.options.max_texts_per_request
        self.max_request_bytes = self.options.max_request_bytes
        self.concurrency = self.options.concurrency
        self.glossary_entries: dict[str, str] = {}
        self.glossary_name: str | None = None
        if self.options.glossary:
            self.glossary_entries = load_glossary_file(self.options.glossary)
            self.glossary_name = glossary_name(self.options.glossary, self.glossary_entries)
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()
        self._glossary_ids: dict[tuple[str, str], str] = {}
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    # -- translate -------------------------------------------------------------------------
    async def translate(self, texts: Sequence[str], source: str, target: str) -> TranslationResult:
        """One request per call (the core plans them); longer lists are split in order."""
        if not texts:
            return TranslationResult([], 0)
        loop_id = id(asyncio.get_running_loop())
        semaphore = self._semaphores.setdefault(loop_id, asyncio.Semaphore(self.concurrency))
        async with semaphore:
            return await asyncio.to_thread(self._translate_all, list(texts), source, target)

    def _translate_all(self, texts: list[str], source: str, target: str) -> TranslationResult:
        out: list[str] = []
        billed = 0
        for start in range(0, len(texts), self.max_texts_per_request):
            part = self._translate_sync(texts[start : start + self.max_texts_per_request], source, target)
            out.extend(part.texts)
            billed += part.billed_characters
        return TranslationResult(out, billed)

    def _translate_sync(self, texts: list[str], source: str, target: str) -> TranslationResult:
        import deepl

        client = self._client()
        kwargs: dict[str, Any] = {
            "source_lang": deepl_source_code(source),
            "target_lang": deepl_target_code(target),
            "tag_handling": "xml",
            "ignore_tags": [KEEP_TAG],
        }
        if self.options.formality and self.options.formality != "default":
            kwargs["formality"] = self.options.formality
        try:
            if self.glossary_entries:
                kwargs["glossary"] = self._glossary_id(client, source, target)
            self._local.retry_after = None
            results = client.translate_text(texts, **kwargs)
        except deepl.QuotaExceededException as exc:
            raise TranslationQuotaExceeded(f"DeepL quota exceeded (456): {exc}") from None
        except deepl.TooManyRequestsException as exc:
            raise RetryableTranslationError(f"DeepL rate limit (429): {exc}", retry_after=self._local.retry_after) from None
        except deepl.AuthorizationException:
            raise UserError(
                f"DeepL rejected the key in ${self.options.auth_key_env} (403): check the key and the server "
                f"(Free keys end in ':fx' and use api-free.deepl.com)"
            ) from None
        except deepl.ConnectionException as exc:
            if exc.should_retry:
                raise RetryableTranslationError(f"DeepL connection failed or timed out: {exc}") from None
            raise StopRun(f"DeepL request could not be sent: {exc}") from None
        except deepl.DeepLException as exc:
            status = exc.http_status_code
            if status == 404 and self.glossary_entries:  # glossary deleted meanwhile: recreate it
                with self._lock:
                    self._glossary_ids.pop((source.upper(), target.upper()), None)
                raise RetryableTranslationError(f"DeepL glossary not found; recreating it: {exc}") from None
            if exc.should_retry or (status is not None and status >= 500):
                raise RetryableTranslationError(f"DeepL server error ({status}): {exc}", retry_after=self._local.retry_after) from None
            raise StopRun(f"DeepL refused the request ({status}): {exc}") from None
        except ValueError as exc:
            raise UserError(f"translate: DeepL cannot translate {source} -> {target}: {exc}") from None
        counts = [getattr(r, "billed_characters", None) for r in results]
        billed = sum(counts) if all(isinstance(c, int) for c in counts) else sum(len(t) for t in texts)
        return TranslationResult([r.text for r in results], int(billed))

    # -- clients and glossaries ------------------------------------------------------------
    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is not None:
            return client
        import deepl

        key = os.environ.get(self.options.auth_key_env, "").strip()
        if not key:
            raise UserError(
                f"translate.auth_key_env: environment variable {self.options.auth_key_env} is not set; "
                f"put your DeepL API key in it"
            )
        # The core retries (with backoff, Retry-After and accounting): the client must not retry on its own.
        deepl.http_client.max_network_retries = 0
        deepl.http_client.min_connection_timeout = self.options.timeout_s
        client = deepl.DeepLClient(key, server_url=self.options.server_url, send_platform_info=False)
        client.set_app_info("factory", factory_version)
        session = getattr(getattr(client, "_client", None), "_session", None)
        if session is not None:  # remember Retry-After: the client drops response headers
            adapter = _HeaderWatchingAdapter(self._remember_retry_after)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        with self._lock:
            self._clients.append(client)
        self._local.client = client
        return client

    def _remember_retry_after(self, response: Any) -> None:
        if response.status_code in (429, 503):
            self._local.retry_after = _retry_after(response.headers.get("Retry-After"))

    def _glossary_id(self, client: Any, source: str, target: str) -> str:
        pair = (source.upper(), target.upper())
        with self._lock:
            if pair in self._glossary_ids:
                return self._glossary_ids[pair]
            glossary_id = ensure_glossary(
                client, self.glossary_name or "factory", deepl_source_code(source), deepl_source_code(target),
                self.glossary_entries,
            )
            self._glossary_ids[pair] = glossary_id
            return glossary_id

    async def aclose(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        self._local = threading.local()

