"""The ``openai`` teacher: any OpenAI-compatible server through the official client.

OpenAI, vLLM, llama.cpp's server and Ollama all speak the same HTTP API, so
one teacher covers them (``base_url``). Online, the teacher sends exactly one
request per call (streamed with ``stream: true``); in ``mode: batch`` it runs
all the requests of a call through the Files and Batches APIs at the batch
price (:mod:`factory_openai.batch`). Every failure becomes one of the core's
two error classes: :class:`~factory.teachers.RetryableTeacherError` (429, 5xx,
timeouts, connection errors, broken bodies) or
:class:`~factory.teachers.FatalTeacherError` (bad key, no permission, unknown
model, bad request, exhausted quota), always with the server's own message.
The client's own retries are off: :mod:`factory.teaching` retries with shared
rate limits and accounting. No message ever contains the API key.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import os
import re
import time
from typing import Any, ClassVar, Literal, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

import pydantic
from pydantic import Field, ValidationInfo, field_validator

from factory.batch_journal import BatchJournal
from factory.contracts import Options, Requirement, env_option, identity_of, runtime
from factory.costs import TokenPrice
from factory.errors import UserError
from factory.teachers import (Completion, FatalTeacherError, RetryableTeacherError, Teacher, TeacherDescription,
                              TeacherError, TeacherRequest)
from factory.teaching import estimate_prompt_tokens, estimate_text_tokens

from factory_openai.errors import parse_retry_after, server_message
from factory_openai.prices import batch_price, list_price
from factory_openai.sse import StreamState, sse_data

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: Placeholder key for local servers that ignore authentication (the client refuses an empty key).
LOCAL_PLACEHOLDER_KEY = "not-needed"
#: Ceiling for one HTTP exchange; the effective per-attempt limit is the core's ``timeout_s``.
HTTP_TIMEOUT_S = 600.0
#: Requests in flight per client before another client (own connection pool) is opened.
SHARD_SIZE = 16
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{3,}")
_RETRYABLE_STATUS = {408, 409, 425, 429}
#: the OpenAI Batch API's limits per input file
BATCH_MAX_REQUESTS = 50_000
BATCH_MAX_BYTES = 200 * 1000 * 1000
#: request-body keys the client takes as typed arguments; the rest travel in ``extra_body``
_TYPED = {"model", "messages", "prompt", "max_tokens", "temperature", "top_p", "stop", "response_format"}
#: body keys the teacher owns (streaming must be read by it): refused in ``extra_body``
_TRANSPORT_KEYS = ("stream", "stream_options")
#: fields the teacher adds that a server may not know; a 400 naming one turns it off for that server
_OPTIONAL_FIELDS = ("response_format", "stream_options")


class WeightedEndpoint(pydantic.BaseModel):
    """One endpoint of a pool: its URL and its share of the requests."""

    model_config = pydantic.ConfigDict(extra="forbid")
    url: str = Field(min_length=1, description="OpenAI-compatible endpoint, e.g. http://10.0.0.2:8000/v1.")
    weight: float = Field(1.0, gt=0, description="Relative share of requests (2: twice the requests of weight 1).")


class OpenAITeacherOptions(Options):
    """The recipe's ``teacher`` options for the ``openai`` teacher."""

    model: str = Field(min_length=1, description="Model name on the server, e.g. gpt-4o-mini or the model vLLM serves.")
    base_url: str | list[str | WeightedEndpoint] | None = Field(
        None, description="OpenAI-compatible endpoint such as http://127.0.0.1:8000/v1; unset means OpenAI's own API. "
        "A list (of URLs or {url, weight}) is a pool of servers of the same model: requests spread over the healthy "
        "ones, with adaptive per-endpoint concurrency and failover (factory_openai.endpoints)."
    )
    endpoint_concurrency: int = runtime(
        16, ge=1, description="With a list of base_url endpoints: most requests in flight per endpoint (the AIMD "
        "ceiling; a 429 halves an endpoint's limit, successes raise it back)."
    )
    api_key_env: str = env_option(
        "OPENAI_API_KEY",
        min_length=1,
        description="Environment variable holding the API key (never the key itself). May be unset for a local server.",
    )
    api: Literal["chat", "completions"] = Field(
        "chat", description="chat: /chat/completions (instruction models); completions: /completions (base models)."
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON fields sent with every request (server-specific sampling options)."
    )
    organization_env: str | None = env_option(
        None, description="Environment variable holding the OpenAI organization id to bill, if any."
    )
    mode: Literal["online", "batch"] = runtime(
        "online",
        description="online: one request at a time; batch: all requests of a batch through the Files and Batches "
        "APIs at the batch price (half the list price on OpenAI), answered within 24 hours.",
    )
    stream: bool = runtime(
        False, description="Stream replies (online mode): records time to first token and tokens/s in stats.json."
    )
    structured_outputs: Literal["auto", "always", "never"] = runtime(
        "auto",
        description="Send response_format (a JSON schema) with requests that carry one (chat API): auto drops it "
        "for this server after a 400 that names it, always keeps it, never sends it. Replies are validated either way.",
    )
    batch_poll_s: float = runtime(30.0, gt=0, description="Seconds between two status checks of a running batch.")
    batch_max_requests: int = runtime(
        BATCH_MAX_REQUESTS, ge=1, le=BATCH_MAX_REQUESTS, description="Most requests per batch input file (OpenAI: 50,000)."
    )
    batch_max_bytes: int = runtime(
        BATCH_MAX_BYTES, ge=1000, le=BATCH_MAX_BYTES, description="Largest batch input file in bytes (OpenAI: 200 MB); "
        "more requests are split over several batches."
    )

    @field_validator("extra_body")
    @classmethod
    def _no_transport_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in _TRANSPORT_KEYS:
            if key in value:
                raise ValueError(f"'{key}' does not belong in extra_body: the teacher must read a stream itself; "
                                 "set teacher.stream: true instead")
        return value

    @field_validator("stream")
    @classmethod
    def _stream_is_online(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("mode") == "batch":
            raise ValueError("a batch is not streamed: use teacher.stream with teacher.mode: online")
        return value


def endpoint_urls(base_url: Any) -> list[str]:
    """Every endpoint of ``base_url`` (a URL, None, or a pool list), in the recipe's order."""
    if not isinstance(base_url, list):
        return [base_url or OPENAI_BASE_URL]
    return [item.url if isinstance(item, WeightedEndpoint) else str(item) for item in base_url]


def endpoint_url(base_url: Any) -> str:
    """The endpoint's base URL (OpenAI's own when unset) without credentials or a trailing slash."""
    if isinstance(base_url, list):  # a pool: every member, sorted (the order does not change answers)
        return " ".join(sorted(endpoint_url(url) for url in endpoint_urls(base_url)))
    split = urlsplit((base_url or OPENAI_BASE_URL).rstrip("/"))
    host = (split.hostname or "") + (f":{split.port}" if split.port else "")
    return urlunsplit((split.scheme, host, split.path, "", ""))


def endpoint_host(base_url: Any) -> str:
    if isinstance(base_url, list):
        hosts = [endpoint_host(url) for url in endpoint_urls(base_url)]
        return hosts[0] + (f" (+{len(hosts) - 1} more)" if len(hosts) > 1 else "")
    split = urlsplit(endpoint_url(base_url))
    return (split.hostname or "") + (f":{split.port}" if split.port else "")


def is_local_url(base_url: Any) -> bool:
    """True for loopback and private-network servers (self-hosted, usually keyless); a pool: all of them."""
    if isinstance(base_url, list):
        return all(is_local_url(url) for url in endpoint_urls(base_url))
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


class OpenAITeacher(Teacher):
    """A teacher on an OpenAI-compatible endpoint; built as ``OpenAITeacher(options)``."""

    options_model: ClassVar[type[pydantic.BaseModel]] = OpenAITeacherOptions

    def setup(self) -> None:
        from factory_openai.endpoints import EndpointPool

        urls = [url.rstrip("/") for url in endpoint_urls(self.options.base_url)]
        for url in urls:
            split = urlsplit(url)
            if split.scheme not in ("http", "https") or not split.hostname:
                raise UserError(f"teacher.base_url: expected an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}")
        self.base_url = urls[0]
        self.host = endpoint_host(self.base_url)
        #: several endpoints: requests spread, adaptive concurrency and failover; None for one URL
        self.pool: EndpointPool | None = None
        if isinstance(self.options.base_url, list):
            weights = [item.weight if isinstance(item, WeightedEndpoint) else 1.0 for item in self.options.base_url]
            self.pool = EndpointPool(list(zip(urls, weights)), self.options.endpoint_concurrency)
        self._key = ""
        self._clients: dict[str, list[list[Any]]] = {}  # base URL -> [[AsyncOpenAI, requests in flight on it]]
        self._clients_loop: asyncio.AbstractEventLoop | None = None
        #: optional request fields this server refused with a 400 (structured_outputs: auto, stream_options)
        self.refused: set[str] = set()

    @classmethod
    def price_for(cls, options: OpenAITeacherOptions) -> TokenPrice:
        """OpenAI's price of the model (on any endpoint that serves it): the batch price in batch mode, the list
        price otherwise; models OpenAI does not list are free."""
        return batch_price(options.model) if options.mode == "batch" else list_price(options.model)

    @property
    def batch_mode(self) -> bool:
        """True in ``mode: batch``: the core then sends requests through :meth:`complete_batch`."""
        return self.options.mode == "batch"

    @property
    def chat(self) -> bool:
        return self.options.api == "chat"

    @classmethod
    def identity_for(cls, options: OpenAITeacherOptions) -> dict[str, Any]:
        """Model, endpoint kind, server and extra body: everything that changes an answer (never a secret)."""
        return {**identity_of(options), "base_url": endpoint_url(options.base_url)}

    @classmethod
    def describe_for(cls, options: OpenAITeacherOptions) -> TeacherDescription:
        return TeacherDescription(model=options.model, endpoint_kind=options.api, endpoint=endpoint_host(options.base_url))

    @classmethod
    def requirements_for(cls, options: OpenAITeacherOptions) -> list[Requirement]:
        needs = [Requirement(module="openai", install="pip install koalpaca-factory-openai", why="teacher openai")]
        if not is_local_url(options.base_url):
            needs.append(Requirement(env=options.api_key_env, why=f"teacher openai ({endpoint_host(options.base_url)})",
                                     install=f"export {options.api_key_env}=<your API key>"))
        return needs

    def api_key(self) -> str:
        """The key from ``api_key_env``; a placeholder for a local server; a UserError naming the variable otherwise."""
        env = self.options.api_key_env
        key = os.environ.get(env, "").strip()
        if key:
            return key
        if is_local_url(self.options.base_url):
            return LOCAL_PLACEHOLDER_KEY
        raise UserError(f"teacher openai: environment variable {env} is not set; it must hold the API key for {self.host}")

    def _organization(self) -> str | None:
        env = self.options.organization_env
        if env is None:
            return None
        value = os.environ.get(env, "").strip()
        if not value:
            raise UserError(f"teacher openai: environment variable {env} (teacher.organization_env) is not set")
        return value

    def _new_client(self, base_url: str | None = None) -> Any:
        import openai

        self._key = self.api_key()
        return openai.AsyncOpenAI(
            api_key=self._key,
            organization=self._organization(),
            base_url=base_url or self.base_url,
            max_retries=0,  # the core retries, with shared limits and accounting
            timeout=HTTP_TIMEOUT_S,
        )

    def _checkout(self, base_url: str | None = None) -> list[Any]:
        """The least busy client shard, opening a new one when every shard has SHARD_SIZE requests in flight.

        Why shards: the HTTP connection pool scans all its connections on every
        request, so one pool costs O(in-flight) CPU per request; shards of
        SHARD_SIZE keep that constant at high concurrency. Clients (and their
        connections) belong to one event loop, so a new loop starts afresh.
        """
        loop = asyncio.get_running_loop()
        if self._clients_loop is not loop:
            self._clients, self._clients_loop = {}, loop
        url = base_url or self.base_url
        shards = self._clients.setdefault(url, [])
        shard = min(shards, key=lambda entry: entry[1], default=None)
        if shard is None or shard[1] >= SHARD_SIZE:
            shard = [self._new_client(url), 0]
            shards.append(shard)
        shard[1] += 1
        return shard

    def request_body(self, request: TeacherRequest) -> dict[str, Any]:
        """The JSON body of ``request`` on this server (online and batch alike), without stream fields."""
        body: dict[str, Any] = {
            "model": self.options.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if self.chat:
            body["messages"] = request.chat_messages()
        else:
            body["prompt"] = _prompt_text(request)
        response_format = self._response_format(request)
        if response_format is not None:
            body["response_format"] = response_format
        body.update(self.options.extra_body)
        body.update(dict(request.extra))
        return body

    @property
    def endpoint(self) -> str:
        return "/v1/chat/completions" if self.chat else "/v1/completions"

    def _response_format(self, request: TeacherRequest) -> dict[str, Any] | None:
        """``response_format`` for a request that carries a schema, where this server is taken to support it.

        How support is decided: ``structured_outputs: never`` never sends it;
        ``always`` always does (a 400 is then the server's answer); ``auto``
        sends it until the server answers a 400 whose message names
        ``response_format`` or ``json_schema``, then resends that request
        without it and stops sending it to this server (the reply is then
        steered by the prompt and checked by :mod:`factory.structured`). The
        legacy completions API has no ``response_format``.
        """
        schema = request.response_schema
        mode = self.options.structured_outputs
        if schema is None or not self.chat or mode == "never" or (mode == "auto" and "response_format" in self.refused):
            return None
        return {"type": "json_schema", "json_schema": {"name": schema.name, "schema": schema.as_dict(), "strict": schema.strict}}

    async def complete(self, request: TeacherRequest) -> Completion:
        if self.pool is not None:
            return await self._complete_on_pool(request)
        return await self._complete_on(request, None)

    async def _complete_on_pool(self, request: TeacherRequest) -> Completion:
        """One request on the pool: a connection failure or an overload moves it to another healthy endpoint
        at once (it was never answered, so nothing is paid twice); other errors go to the core's retries."""
        from factory_openai.endpoints import OVERLOAD_STATUS

        pool = self.pool
        tried: set[str] = set()
        while True:
            endpoint = await pool.acquire(tried)
            try:
                completion = await self._complete_on(request, endpoint.url)
            except RetryableTeacherError as error:
                outcome = "overloaded" if error.status in OVERLOAD_STATUS else "down" if error.status is None else "error"
                await pool.release(endpoint, outcome)
                tried.add(endpoint.url)
                if outcome != "error" and pool.any_other_healthy(endpoint.url) and len(tried) < len(pool.endpoints):
                    endpoint.failovers += 1
                    continue
                raise
            except BaseException:
                await pool.release(endpoint, "error")
                raise
            await pool.release(endpoint, "ok")
            return completion

    def endpoint_stats(self) -> list[dict[str, Any]]:
        """Per-endpoint counts and concurrency of a pool (stats.json); empty for one URL."""
        return self.pool.stats() if self.pool is not None else []

    async def _complete_on(self, request: TeacherRequest, base_url: str | None) -> Completion:
        for _ in range(len(_OPTIONAL_FIELDS)):
            try:
                return await self._complete_once(request, base_url)
            except _Refused as refused:  # resend without the optional field the server does not know
                log.warning("teacher %s: the server refused '%s' (%s); sending requests without it",
                            self.label, refused.field, refused.error)
                self.refused.add(refused.field)
        return await self._complete_once(request, base_url)  # every optional field is off by now

    async def _complete_once(self, request: TeacherRequest, base_url: str | None = None) -> Completion:
        import openai

        body = self.request_body(request)
        optional = {"response_format"} if "response_format" in body and self.options.structured_outputs == "auto" else set()
        kwargs = {k: v for k, v in body.items() if k in _TYPED}
        extra = {k: v for k, v in body.items() if k not in _TYPED}
        if extra:
            kwargs["extra_body"] = extra
        if self.options.stream:
            kwargs["stream"] = True
            if "stream_options" not in self.refused:
                kwargs["stream_options"] = {"include_usage": True}
                optional.add("stream_options")
        shard = self._checkout(base_url)
        client = shard[0]
        endpoint = client.chat.completions if self.chat else client.completions
        started = time.perf_counter()
        try:
            if self.options.stream:
                async with endpoint.with_streaming_response.create(**kwargs) as streamed:
                    return await self._read_stream(streamed.iter_lines(), request, started)
            response = await endpoint.create(**kwargs)
        except openai.APIError as exc:
            error = self._translate(exc)
            field = _refused_field(error, optional)
            if field is not None:
                raise _Refused(field, error) from None
            raise error from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RetryableTeacherError(f"malformed JSON response body ({type(exc).__name__})") from None
        except _transport_errors() as exc:  # raised while reading a stream, outside the client's own handling
            raise RetryableTeacherError(f"connection to {self.host} broke during the reply: {self._scrub(str(exc))}") from None
        finally:
            shard[1] -= 1
        return self._completion(response, request, self.chat)

    async def _read_stream(self, lines: Any, request: TeacherRequest, started: float) -> Completion:
        """Text, finish reason and usage from a stream's lines (:mod:`factory_openai.sse`); usage from the last chunk,
        or counted (one chunk a token) when the server sends none."""
        state = StreamState(self.chat)
        first: float | None = None
        async for payload in sse_data(lines):
            try:
                chunk = json.loads(payload)
                if isinstance(chunk, dict) and chunk.get("error"):
                    raise self._stream_error(chunk["error"])
                if state.add(chunk) and first is None:
                    first = time.perf_counter()
            except ValueError as exc:
                raise RetryableTeacherError(f"malformed stream event: {exc}") from None
        end = time.perf_counter()
        if state.finish_reason is None:
            raise RetryableTeacherError("malformed response: the stream ended before the reply finished")
        raw: dict[str, Any] = {"id": state.response_id, "model": state.model, "streamed": True}
        usage = state.usage or {}
        if isinstance(usage.get("prompt_tokens"), int):
            prompt_tokens, completion_tokens = usage["prompt_tokens"], int(usage.get("completion_tokens") or 0)
        else:  # no usage chunk: one chunk per token is what OpenAI, vLLM and llama.cpp send
            prompt_tokens, completion_tokens = estimate_prompt_tokens(request), len(state.pieces)
            raw["usage_estimated"] = True
        first = end if first is None else first
        return Completion(text="".join(state.pieces), finish_reason=state.finish_reason, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, raw=raw, time_to_first_token_s=first - started,
                          generation_s=end - first)

    def _stream_error(self, error: Any) -> TeacherError:
        """An error event inside a stream: by its status code when it has one, else retryable."""
        message = self._scrub(server_message(error) or "the server failed during the stream")
        code = error.get("code") if isinstance(error, dict) else None
        if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
            return self.status_error(int(code), message)
        return RetryableTeacherError(f"error during the stream: {message}")

    async def complete_batch(self, jobs: Sequence[tuple[str, TeacherRequest]], journal: BatchJournal
                             ) -> Mapping[str, Completion | TeacherError]:
        """All ``jobs`` through the Files and Batches APIs (see :mod:`factory_openai.batch`)."""
        from factory_openai.batch import BatchRun

        return await BatchRun(self, journal).run(jobs)

    def _completion(self, response: Any, request: TeacherRequest, chat: bool) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices:
            raise RetryableTeacherError("malformed response: no choices")
        choice = choices[0]
        text = getattr(getattr(choice, "message", None), "content", None) if chat else getattr(choice, "text", None)
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise RetryableTeacherError("malformed response: the choice has no text")
        raw: dict[str, Any] = {"id": getattr(response, "id", None), "model": getattr(response, "model", None)}
        usage = getattr(response, "usage", None)
        if usage is not None and isinstance(getattr(usage, "prompt_tokens", None), int):
            prompt_tokens, completion_tokens = usage.prompt_tokens, usage.completion_tokens or 0
        else:  # some servers omit usage: estimate, so cost and budget still count something
            prompt_tokens, completion_tokens = estimate_prompt_tokens(request), estimate_text_tokens(text)
            raw["usage_estimated"] = True
        return Completion(
            text=text,
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            raw=raw,
        )

    def _scrub(self, text: str) -> str:
        """Remove anything key-like from a server message before it reaches a log or the user."""
        if len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return _KEY_LIKE.sub("sk-***", text)[:300]

    def _server_message(self, exc: Any) -> str:
        text = server_message(getattr(exc, "body", None)) or str(getattr(exc, "message", "") or type(exc).__name__)
        return self._scrub(text)

    def _translate(self, exc: Any) -> TeacherError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return RetryableTeacherError(f"request to {self.host} timed out")
        if isinstance(exc, openai.APIConnectionError):
            cause = f" ({self._scrub(str(exc.__cause__))})" if exc.__cause__ and str(exc.__cause__) else ""
            return RetryableTeacherError(f"connection to {self.host} failed: {self._scrub(str(exc))}{cause}")
        if isinstance(exc, openai.APIResponseValidationError):
            return RetryableTeacherError(f"malformed response: {self._server_message(exc)}", status=exc.status_code)
        if not isinstance(exc, openai.APIStatusError):
            return RetryableTeacherError(f"{type(exc).__name__}: {self._server_message(exc)}")
        return self.status_error(exc.status_code, self._server_message(exc), code=exc.code,
                                 kind=getattr(exc, "type", None), retry_after=parse_retry_after(exc.response.headers))

    def status_error(self, status: int, message: str, *, code: str | None = None, kind: str | None = None,
                     retry_after: float | None = None) -> TeacherError:
        """The core's error for an HTTP status and the server's (scrubbed) message; also used for batch rows."""
        env, model = self.options.api_key_env, self.options.model
        if status == 429 and "insufficient_quota" in (code, kind):
            return FatalTeacherError(
                f"429 quota exhausted (insufficient_quota): the account behind {env} has no credit left; "
                f"check plan and billing ({message})",
                status=status,
            )
        if status in _RETRYABLE_STATUS or status >= 500:
            return RetryableTeacherError(f"{status} {message}", retry_after=retry_after, status=status)
        if status == 401:
            return FatalTeacherError(f"401 authentication failed (check {env}): {message}", status=status)
        if status == 403:
            return FatalTeacherError(f"403 permission denied for model '{model}' (check {env}): {message}", status=status)
        if status == 404:
            return FatalTeacherError(
                f"404 not found: {message} (check teacher.model '{model}' and teacher.base_url {self.base_url})",
                status=status,
            )
        if status == 400:
            return FatalTeacherError(f"400 bad request: {message}", status=status)
        return FatalTeacherError(f"{status} {message}", status=status)

    async def aclose(self) -> None:
        clients, loop = self._clients, self._clients_loop
        self._clients, self._clients_loop = {}, None
        if loop is asyncio.get_running_loop():  # clients of an earlier, finished loop have no live connections
            for shards in clients.values():
                for client, _ in shards:
                    await client.close()


def _prompt_text(request: TeacherRequest) -> str:
    """The completions endpoint takes one string: chat messages are joined by blank lines."""
    if request.prompt is not None:
        return request.prompt
    return "\n\n".join(content for _, content in request.messages or ())


class _Refused(Exception):
    """The server answered 400 to an optional field we added; resend without it."""

    def __init__(self, field: str, error: TeacherError):
        super().__init__(field)
        self.field = field
        self.error = error


def _refused_field(error: TeacherError, optional: set[str]) -> str | None:
    """Which of the optional fields sent a 400 names, if any."""
    if getattr(error, "status", None) != 400:
        return None
    text = str(error).lower()
    for field in sorted(optional):
        if field in text or (field == "response_format" and "json_schema" in text):
            return field
    return None


@functools.lru_cache(maxsize=1)
def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's request errors (httpx2 under openai 3, httpx before): raised while a stream is read."""
    errors: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        errors.append(module.HTTPError)
    return tuple(errors)
