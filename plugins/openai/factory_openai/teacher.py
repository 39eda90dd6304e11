"""The ``openai`` teacher: any OpenAI-compatible server through the official client.

OpenAI, vLLM, llama.cpp's server and Ollama all speak the same HTTP API, so
one teacher covers them (``base_url``). The teacher sends exactly one request
per call and translates every failure into the core's two error classes:
:class:`~factory.teachers.RetryableTeacherError` (429, 5xx, timeouts,
connection errors, broken bodies) or :class:`~factory.teachers.FatalTeacherError`
(bad key, no permission, unknown model, bad request, exhausted quota). The
client's own retries are off: :mod:`factory.teaching` retries with shared rate
limits and accounting. No message ever contains the API key.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import os
import re
import time
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

import pydantic
from pydantic import Field

from factory.contracts import Options, Requirement, env_option, identity_of
from factory.costs import TokenPrice
from factory.errors import UserError
from factory.teachers import (Completion, FatalTeacherError, RetryableTeacherError, Teacher, TeacherDescription,
                              TeacherRequest)
from factory.teaching import estimate_prompt_tokens, estimate_text_tokens

from factory_openai.prices import list_price

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: Placeholder key for local servers that ignore authentication (the client refuses an empty key).
LOCAL_PLACEHOLDER_KEY = "not-needed"
#: Ceiling for one HTTP exchange; the effective per-attempt limit is the core's ``timeout_s``.
HTTP_TIMEOUT_S = 600.0
#: Requests in flight per client before another client (own connection pool) is opened.
SHARD_SIZE = 16
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{3,}")
_RETRYABLE_STATUS = {408, 409, 425, 429}


class OpenAITeacherOptions(Options):
    """The recipe's ``teacher`` options for the ``openai`` teacher."""

    model: str = Field(min_length=1, description="Model name on the server, e.g. gpt-4o-mini or the model vLLM serves.")
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint such as http://127.0.0.1:8000/v1; unset means OpenAI's own API."
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


def endpoint_url(base_url: str | None) -> str:
    """The endpoint's base URL (OpenAI's own when unset) without credentials or a trailing slash."""
    split = urlsplit((base_url or OPENAI_BASE_URL).rstrip("/"))
    host = (split.hostname or "") + (f":{split.port}" if split.port else "")
    return urlunsplit((split.scheme, host, split.path, "", ""))


def endpoint_host(base_url: str | None) -> str:
    split = urlsplit(endpoint_url(base_url))
    return (split.hostname or "") + (f":{split.port}" if split.port else "")


def is_local_url(base_url: str | None) -> bool:
    """True for loopback and private-network servers (self-hosted, usually keyless)."""
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


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenAITeacher(Teacher):
    """A teacher on an OpenAI-compatible endpoint; built as ``OpenAITeacher(options)``."""

    options_model: ClassVar[type[pydantic.BaseModel]] = OpenAITeacherOptions

    def setup(self) -> None:
        self.base_url = (self.options.base_url or OPENAI_BASE_URL).rstrip("/")
        split = urlsplit(self.base_url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise UserError(f"teacher.base_url: expected an http(s) URL such as http://127.0.0.1:8000/v1, got {self.base_url!r}")
        self.host = split.hostname + (f":{split.port}" if split.port else "")
        self._key = ""
        self._clients: list[list[Any]] = []  # [AsyncOpenAI, requests in flight on it]
        self._clients_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def price_for(cls, options: OpenAITeacherOptions) -> TokenPrice:
        """OpenAI's list price of the model (on any endpoint that serves it); models OpenAI does not list are free."""
        return list_price(options.model)

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

    def _new_client(self) -> Any:
        import openai

        self._key = self.api_key()
        return openai.AsyncOpenAI(
            api_key=self._key,
            organization=self._organization(),
            base_url=self.base_url,
            max_retries=0,  # the core retries, with shared limits and accounting
            timeout=HTTP_TIMEOUT_S,
        )

    def _checkout(self) -> list[Any]:
        """The least busy client shard, opening a new one when every shard has SHARD_SIZE requests in flight.

        Why shards: the HTTP connection pool scans all its connections on every
        request, so one pool costs O(in-flight) CPU per request; shards of
        SHARD_SIZE keep that constant at high concurrency. Clients (and their
        connections) belong to one event loop, so a new loop starts afresh.
        """
        loop = asyncio.get_running_loop()
        if self._clients_loop is not loop:
            self._clients, self._clients_loop = [], loop
        shard = min(self._clients, key=lambda entry: entry[1], default=None)
        if shard is None or shard[1] >= SHARD_SIZE:
            shard = [self._new_client(), 0]
            self._clients.append(shard)
        shard[1] += 1
        return shard

    async def complete(self, request: TeacherRequest) -> Completion:
        import openai

        kwargs: dict[str, Any] = {
            "model": self.options.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.stop:
            kwargs["stop"] = list(request.stop)
        extra = {**self.options.extra_body, **dict(request.extra)}
        if extra:
            kwargs["extra_body"] = extra
        chat = self.options.api == "chat"
        shard = self._checkout()
        client = shard[0]
        try:
            if chat:
                response = await client.chat.completions.create(messages=request.chat_messages(), **kwargs)
            else:
                response = await client.completions.create(prompt=_prompt_text(request), **kwargs)
        except openai.APIError as exc:
            raise self._translate(exc) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RetryableTeacherError(f"malformed JSON response body ({type(exc).__name__})") from None
        finally:
            shard[1] -= 1
        return self._completion(response, request, chat)

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
        body = getattr(exc, "body", None)
        message = body.get("message") if isinstance(body, dict) else None
        return self._scrub(str(message or getattr(exc, "message", "") or type(exc).__name__))

    def _translate(self, exc: Any) -> Exception:
        import openai

        env, model = self.options.api_key_env, self.options.model
        if isinstance(exc, openai.APITimeoutError):
            return RetryableTeacherError(f"request to {self.host} timed out")
        if isinstance(exc, openai.APIConnectionError):
            return RetryableTeacherError(f"connection to {self.host} failed: {self._scrub(str(exc))}")
        if isinstance(exc, openai.APIResponseValidationError):
            return RetryableTeacherError(f"malformed response: {self._server_message(exc)}", status=exc.status_code)
        if not isinstance(exc, openai.APIStatusError):
            return RetryableTeacherError(f"{type(exc).__name__}: {self._scrub(str(exc))}")
        status, message = exc.status_code, self._server_message(exc)
        if status == 429 and (exc.code == "insufficient_quota" or getattr(exc, "type", None) == "insufficient_quota"):
            return FatalTeacherError(
                f"429 quota exhausted (insufficient_quota): the account behind {env} has no credit left; "
                "check plan and billing",
                status=status,
            )
        if status in _RETRYABLE_STATUS or status >= 500:
            return RetryableTeacherError(f"{status} {message}", retry_after=parse_retry_after(exc.response.headers), status=status)
        if status == 401:
            return FatalTeacherError(f"401 authentication failed (check {env})", status=status)
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
        self._clients, self._clients_loop = [], None
        if loop is asyncio.get_running_loop():  # clients of an earlier, finished loop have no live connections
            for client, _ in clients:
                await client.close()


def _prompt_text(request: TeacherRequest) -> str:
    """The completions endpoint takes one string: chat messages are joined by blank lines."""
    if request.prompt is not None:
        return request.prompt
    return "\n\n".join(content for _, content in request.messages or ())
