"""A loopback OpenAI-compatible HTTP server for tests and benchmarks (standard library only).

Why: the teacher machinery must be tested through the real ``openai`` client,
on the real wire format, including the faults a paid API produces (429 with
Retry-After, 5xx, hung requests, truncated bodies, bad keys, unknown models,
exhausted quota). This server speaks enough of the OpenAI HTTP API for that:

- ``POST /v1/chat/completions`` and ``POST /v1/completions`` (``prompt`` may be
  a string or a list of strings: one choice per prompt, as in batched
  completions), with ``usage``, ``stop`` and ``max_tokens`` honoured
  (a text cut at ``max_tokens`` ends with ``finish_reason="length"``);
  ``stream: true`` answers server-sent events, one word a chunk
  (``chunk_delay_s`` apart, or spread over ``latency_s`` with ``stream_spread``), with a usage chunk when the request asks for
  ``stream_options.include_usage`` and ``stream_usage`` is on;
- ``GET /v1/models``;
- the Files and Batches endpoints (:mod:`factory_openai.loopback_batch`, as
  ``server.batch_api``).

Servers differ, and the switches below play the other kinds:
``supports_response_format`` / ``supports_stream_options`` (False: a 400 that
names the field), ``error_style`` (``openai``: ``{"error": {"message"}}``,
``detail``: FastAPI's ``{"detail": ...}``, ``message``: ``{"message": ...}``,
``text``: a plain-text body).

Replies come, per request, from the fault queue (:meth:`LoopbackOpenAI.inject`),
then the script (:meth:`LoopbackOpenAI.script`, replies and faults in order),
then the ``respond(request_json) -> str`` callable. Tokens are counted as
whitespace-separated words, so tests can predict usage exactly.

In-process::

    with LoopbackOpenAI(latency_s=0.1) as server:
        server.inject(("429", 1.0), ("500",))
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x")

As a separate process (for kill-and-resume tests)::

    python -m factory_openai.loopback --port 0 --script replies.jsonl --log requests.jsonl

prints the base URL on its first stdout line and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from factory.testing.loopback import LoopbackHandler, LoopbackHTTPServer
from factory_openai.loopback_batch import BatchAPI

#: fault name -> number of arguments it takes (all optional)
FAULTS: dict[str, int] = {
    "429": 1,  # ("429", retry_after_seconds): rate limited, Retry-After header set when given
    "500": 0,  # internal server error
    "timeout": 1,  # ("timeout", seconds): hold the request this long before answering (a hung server)
    "malformed": 0,  # 200 with a truncated JSON body
    "disconnect": 0,  # close the connection without answering
    "400": 0,  # bad request
    "401": 0,  # invalid API key
    "404": 0,  # model not found
    "quota": 0,  # 429 with code insufficient_quota
    "stream_cut": 0,  # a streamed reply that stops after two chunks (the connection drops)
    "stream_error": 0,  # a streamed reply with an error event after two chunks (as vLLM sends one)
    "null_content": 0,  # 200 whose message content is null (completions: empty text), usage billed
}
#: ``error_style`` values: how error bodies are shaped
ERROR_STYLES = ("openai", "detail", "message", "text")

Responder = Callable[[dict[str, Any]], str]
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Reply:
    """A scripted reply; ``finish_reason`` overrides the one the server would compute."""

    text: str
    finish_reason: str | None = None


def count_tokens(text: str) -> int:
    """The loopback tokenizer: whitespace-separated words."""
    return len(_WORD.findall(text))


def default_responder(request: dict[str, Any]) -> str:
    """Deterministic text derived from the request, so distinct requests get distinct replies."""
    source = request.get("prompt")
    if source is None:
        messages = request.get("messages") or [{}]
        source = str(messages[-1].get("content", ""))
    words = _WORD.findall(str(source))[:12]
    return "loopback reply to: " + " ".join(words)


def padded_responder(words: int) -> Responder:
    """The default reply, lengthened with filler words to ``words`` words (benchmarks of long replies)."""

    def respond(request: dict[str, Any]) -> str:
        reply = default_responder(request).split()
        return " ".join(reply + [f"word{i}" for i in range(max(0, words - len(reply)))])

    return respond


def _as_fault(item: Any) -> tuple | None:
    """Return a normalised fault tuple if ``item`` is one, else None."""
    if isinstance(item, (tuple, list)) and item and str(item[0]) in FAULTS:
        name, *args = item
        if len(args) > FAULTS[str(name)]:
            raise ValueError(f"fault {name!r} takes at most {FAULTS[str(name)]} argument(s), got {args!r}")
        return (str(name), *args)
    return None


def _as_reply(item: Any) -> Reply:
    if isinstance(item, Reply):
        return item
    if isinstance(item, str):
        return Reply(item)
    if isinstance(item, dict) and "text" in item:
        return Reply(str(item["text"]), item.get("finish_reason"))
    raise ValueError(f"not a reply or fault: {item!r}")


def _script_item(item: Any) -> tuple | Reply:
    return _as_fault(item) or _as_reply(item)


def load_script(path: str | Path) -> list[tuple | Reply]:
    """Read a JSON-lines script: ``{"text": ..., "finish_reason": ...}``, a JSON string, or ``{"fault": ["429", 2]}``."""
    items: list[tuple | Reply] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and "fault" in data:
                fault = data["fault"]
                fault = _as_fault([fault] if isinstance(fault, str) else fault)
                if fault is None:
                    raise ValueError(f"unknown fault {data['fault']!r} (known: {', '.join(FAULTS)})")
                items.append(fault)
            else:
                items.append(_as_reply(data))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    return items


def _cut(text: str, stop: Iterable[str], max_tokens: int | None) -> tuple[str, str]:
    """Apply stop sequences, then the token limit, the way a real server does."""
    finish = "stop"
    cuts = [text.find(s) for s in stop if s and s in text]
    if cuts:
        text = text[: min(cuts)]
    if max_tokens is not None and max_tokens >= 0:
        words = list(_WORD.finditer(text))
        if len(words) > max_tokens:
            text = text[: words[max_tokens - 1].end()] if max_tokens > 0 else ""
            finish = "length"
    return text, finish


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _pieces(text: str) -> list[str]:
    """The chunks a streamed ``text`` is sent in: one word each (with its spacing), joined back exactly."""
    ends = [match.end() for match in _WORD.finditer(text)]
    if not ends:
        return [text] if text else []
    ends[-1] = len(text)
    return [text[start:end] for start, end in zip([0] + ends[:-1], ends)]


class _Handler(LoopbackHandler):
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stall between headers and body

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        owner = self.server.owner
        if not owner._authorized(self.headers.get("Authorization")):
            self._send_error(401, owner._auth_error())
            return
        if self.path.startswith(("/v1/files", "/v1/batches")):
            self._send_batch_api("GET", b"")
            return
        if self.path.rstrip("/") != "/v1/models":
            self._send_error(404, owner._error_payload(f"unknown path {self.path}", "invalid_request_error", None))
            return
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "loopback"} for m in owner.models]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:  # noqa: N802
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the client died mid-request: nothing arrived to answer or log
            self.close_connection = True
            return
        path = self.path.rstrip("/")
        if path.startswith(("/v1/files", "/v1/batches")):
            if not owner._authorized(self.headers.get("Authorization")):
                self._send_error(401, owner._auth_error())
            else:
                self._send_batch_api("POST", raw)
            return
        if path not in ("/v1/chat/completions", "/v1/completions"):
            self._send_error(404, owner._error_payload(f"unknown path {self.path}", "invalid_request_error", None))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send_error(400, owner._error_payload("request body is not JSON", "invalid_request_error", None))
            return
        owner._enter()
        try:
            self._complete(owner, path, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to answer
        finally:
            owner._leave()

    def _send_batch_api(self, method: str, raw: bytes) -> None:
        status, payload, content_type = self.server.owner.batch_api.handle(method, self.path, self.headers, raw)
        if content_type != "json":
            self._send_raw(status, payload, content_type)
        elif status >= 400:
            self._send_error(status, payload)
        else:
            self._send_json(status, payload)

    def _send_error(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """An error body in the server's ``error_style`` (a plain-text one for ``text``)."""
        if isinstance(payload, str):
            self._send_raw(status, payload.encode("utf-8"), "text/plain; charset=utf-8", headers)
        else:
            self._send_json(status, payload, headers)

    def _complete(self, owner: "LoopbackOpenAI", path: str, body: dict[str, Any]) -> None:
        fault = owner._next_fault()
        owner._record(path, body, fault)
        if not owner._authorized(self.headers.get("Authorization")):
            self._send_error(401, owner._auth_error())
            return
        if fault is not None:
            self._send_fault(owner, fault, body)
            return
        refused = owner._refused_field(body)
        if refused is not None:
            message = f"Unrecognized request argument supplied: {refused} (loopback)"
            self._send_error(400, owner._error_payload(message, "invalid_request_error", None))
            return
        chat = path.endswith("chat/completions")
        if chat:
            prompts = [body]
        else:
            prompt = body.get("prompt", "")
            prompts = [{**body, "prompt": p} for p in prompt] if isinstance(prompt, list) else [body]
        replies = [owner._next_reply(view) for view in prompts]
        spread = bool(body.get("stream")) and owner.stream_spread
        if owner.latency_s > 0:
            owner._stop.wait(owner.latency_s * (0.1 if spread else 1.0))
        if body.get("stream"):
            self._stream(owner, chat, body, owner._build(chat, body, replies[:1]))
        else:
            self._send_json(200, owner._build(chat, body, replies))

    def _stream(self, owner: "LoopbackOpenAI", chat: bool, body: dict[str, Any], whole: dict[str, Any],
                cut_after: int | None = None, fail: bool = False) -> None:
        """Send ``whole`` (a built response) as server-sent events in chunked transfer encoding."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(payload: Any) -> None:
            data = b"data: " + (payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")) + b"\n\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        choice = whole["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
        head = {"id": whole["id"], "object": "chat.completion.chunk" if chat else "text_completion",
                "created": whole["created"], "model": whole["model"]}

        def chunk(piece: str | None, finish: str | None) -> dict[str, Any]:
            if chat:
                delta = {"role": "assistant", "content": piece} if piece is not None else {}
                return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
            return {**head, "choices": [{"index": 0, "text": piece or "", "finish_reason": finish, "logprobs": None}]}

        pieces = _pieces(text)
        delay = owner.chunk_delay_s
        if owner.stream_spread and pieces:  # the other 90% of the latency, spread over the chunks as they are made
            delay = owner.latency_s * 0.9 / len(pieces)
        due = time.monotonic()
        for number, piece in enumerate(pieces):
            if cut_after is not None and number >= cut_after and fail:
                event({"error": {"object": "error", "message": "The engine died while generating (loopback).",
                                 "type": "InternalServerError", "param": None, "code": 500}})
                event(b"[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            if cut_after is not None and number >= cut_after:
                self.close_connection = True
                self.connection.shutdown(2)  # mid-stream: no final chunk, no terminating zero-length chunk
                return
            event(chunk(piece, None))
            if delay > 0:  # paced against the clock, so slow writes do not add up
                due += delay
                owner._stop.wait(max(0.0, due - time.monotonic()))
        event(chunk(None, choice["finish_reason"]))
        if owner.stream_usage and (body.get("stream_options") or {}).get("include_usage"):
            event({**head, "choices": [], "usage": whole["usage"]})
        event(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_fault(self, owner: "LoopbackOpenAI", fault: tuple, body: dict[str, Any]) -> None:
        name, *args = fault
        error = owner._error_payload
        if name == "429":
            headers = {"Retry-After": _format_seconds(args[0])} if args and args[0] is not None else {}
            self._send_error(429, error("Rate limit reached for requests (loopback).", "requests", "rate_limit_exceeded"), headers)
        elif name == "quota":
            message = "Your account has no quota left for this request (loopback); check plan and billing."
            self._send_error(429, error(message, "insufficient_quota", "insufficient_quota"))
        elif name == "500":
            self._send_error(500, error("The server had an error while processing the request (loopback).", "server_error", None))
        elif name == "400":
            self._send_error(400, error(owner.bad_request_message, "invalid_request_error", None))
        elif name == "401":
            self._send_error(401, owner._auth_error())
        elif name == "404":
            model = body.get("model", "")
            message = f"The model `{model}` does not exist or you do not have access to it."
            self._send_error(404, error(message, "invalid_request_error", "model_not_found"))
        elif name == "timeout":
            owner._stop.wait(float(args[0]) if args else 3600.0)
            self._send_error(504, error("late answer after a scripted hang (loopback)", "server_error", None))
        elif name == "malformed":
            whole = json.dumps(owner._build(True, body, [Reply("this body is cut in the middle")])).encode()
            self._send_raw(200, whole[: len(whole) // 2], "application/json")
        elif name == "disconnect":
            self.close_connection = True
            self.connection.shutdown(2)  # socket.SHUT_RDWR: the client sees the peer hang up
        elif name == "stream_cut":
            chat = self.path.rstrip("/").endswith("chat/completions")
            whole = owner._build(chat, body, [Reply("this streamed reply will be cut after two words")])
            self._stream(owner, chat, body, whole, cut_after=2)
        elif name == "null_content":
            chat = self.path.rstrip("/").endswith("chat/completions")
            whole = owner._build(chat, body, [Reply("")])
            if chat:
                whole["choices"][0]["message"]["content"] = None
            self._send_json(200, whole)
        elif name == "stream_error":
            chat = self.path.rstrip("/").endswith("chat/completions")
            whole = owner._build(chat, body, [Reply("this streamed reply will fail after two words")])
            self._stream(owner, chat, body, whole, cut_after=2, fail=True)


def _format_seconds(value: Any) -> str:
    if isinstance(value, str):
        return value  # already an HTTP date or a number
    return f"{float(value):g}"


class LoopbackOpenAI(LoopbackHTTPServer):
    """An OpenAI-compatible server on 127.0.0.1 in a background thread; use as a context manager.

    ``respond(request_json)`` returns the reply text (or a :class:`Reply`, or
    ``{"text": ..., "finish_reason": ...}``); for a batched completions call it
    is called once per prompt, with ``prompt`` set to that prompt.
    ``requests`` logs every received body (with ``t``, ``path`` and the ``fault``
    applied); ``max_in_flight`` is the peak number of requests the server held
    at once. ``log_path`` also appends each log entry as a JSON line, flushed at
    once, so a test can inspect requests from a process it killed.
    """

    handler_class = _Handler
    request_queue_size = 512  # many concurrent connections arrive at once in the concurrency tests

    def __init__(
        self,
        respond: Responder | None = None,
        *,
        latency_s: float = 0.0,
        api_key: str | None = None,
        log_path: str | Path | None = None,
        models: Iterable[str] = ("loopback-model",),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.respond: Responder = respond or default_responder
        self.latency_s = latency_s
        self.api_key = api_key  # when set, requests must carry "Authorization: Bearer <api_key>"
        self.log_path = Path(log_path) if log_path else None
        self.models = list(models)
        self.bad_request_message = "Invalid request (loopback)."
        self.error_style = "openai"
        self.supports_response_format = True
        self.supports_stream_options = True
        self.stream_usage = True  # send the usage chunk when the request asks for it
        self.chunk_delay_s = 0.0  # pause between two streamed chunks
        #: stream a reply over ``latency_s`` as a server generating it would: first chunk after 10%, the rest spread
        self.stream_spread = False
        self.requests: list[dict[str, Any]] = []
        self._faults: collections.deque[tuple] = collections.deque()
        self._script: collections.deque[tuple | Reply] = collections.deque()
        self._ids = 0
        self.batch_api = BatchAPI(self)

    @property
    def base_url(self) -> str:
        """What the openai client takes as ``base_url``."""
        return f"{self.url}/v1"

    # -- scripting -------------------------------------------------------------------------
    def inject(self, *faults: tuple) -> None:
        """Queue faults for the next requests, ahead of any scripted reply: ``("429", 2.0)``, ``("500",)``..."""
        with self._lock:
            for item in faults:
                fault = _as_fault(item)
                if fault is None:
                    raise ValueError(f"unknown fault {item!r} (known: {', '.join(FAULTS)})")
                self._faults.append(fault)

    def script(self, *items: Any) -> None:
        """Queue replies (``str``, ``{"text", "finish_reason"}``, :class:`Reply`) and faults, used in order."""
        with self._lock:
            self._script.extend(_script_item(item) for item in items)

    def pending(self) -> int:
        """Faults and scripted items not consumed yet."""
        with self._lock:
            return len(self._faults) + len(self._script)

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in arrival order."""
        return [entry["body"] for entry in self.requests]

    # -- used by the handler threads -------------------------------------------------------
    def _next_fault(self) -> tuple | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._script and isinstance(self._script[0], tuple):
                return self._script.popleft()  # type: ignore[return-value]
            return None

    def _next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script and isinstance(self._script[0], Reply):
                return self._script.popleft()  # type: ignore[return-value]
        return _as_reply(self.respond(request))

    def _record(self, path: str, body: dict[str, Any], fault: tuple | None, *, method: str = "POST",
                batch: str | None = None) -> None:
        entry = {"t": time.time(), "path": path, "body": body, "fault": list(fault) if fault else None}
        if method != "POST":
            entry["method"] = method
        if batch is not None:
            entry["batch"] = batch  # a batch row, answered when its batch was created
        with self._lock:
            self.requests.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                    handle.flush()

    def _authorized(self, header: str | None) -> bool:
        return self.api_key is None or header == f"Bearer {self.api_key}"

    def _auth_error(self) -> Any:
        return self._error_payload("Incorrect API key provided (loopback).", "invalid_request_error", "invalid_api_key")

    def _error_payload(self, message: str, type_: str, code: str | None) -> Any:
        """An error body in ``error_style``: OpenAI's, FastAPI's ``detail``, a bare ``message``, or plain text."""
        if self.error_style not in ERROR_STYLES:
            raise ValueError(f"unknown error_style {self.error_style!r} (known: {', '.join(ERROR_STYLES)})")
        if self.error_style == "detail":
            return {"detail": message}
        if self.error_style == "message":
            return {"message": message, "code": code}
        if self.error_style == "text":
            return message
        return _error_body(message, type_, code)

    def _refused_field(self, body: dict[str, Any]) -> str | None:
        """The optional field this server plays not to know, when the request carries it."""
        if not self.supports_response_format and "response_format" in body:
            return "response_format"
        if not self.supports_stream_options and "stream_options" in body:
            return "stream_options"
        return None

    # -- counts for tests ------------------------------------------------------------------
    def count(self, path: str, *, method: str = "POST") -> int:
        """Requests logged for ``path`` with ``method`` (batch rows count under their endpoint)."""
        with self._lock:
            return sum(1 for e in self.requests if e["path"] == path and e.get("method", "POST") == method)

    def _build(self, chat: bool, body: dict[str, Any], replies: list[Reply]) -> dict[str, Any]:
        with self._lock:
            self._ids += 1
            number = self._ids
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        choices, completion_tokens = [], 0
        for index, reply in enumerate(replies):
            text, finish = _cut(reply.text, stop, max_tokens)
            finish = reply.finish_reason or finish
            completion_tokens += count_tokens(text)
            if chat:
                message = {"role": "assistant", "content": text}
                choices.append({"index": index, "message": message, "finish_reason": finish, "logprobs": None})
            else:
                choices.append({"index": index, "text": text, "finish_reason": finish, "logprobs": None})
        if chat:
            prompt_tokens = sum(count_tokens(str(m.get("content", ""))) for m in body.get("messages", []))
        else:
            prompt = body.get("prompt", "")
            prompt_tokens = sum(count_tokens(str(p)) for p in (prompt if isinstance(prompt, list) else [prompt]))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-loopback-{number}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": choices,
            "usage": usage,
        }


def _load_responder(spec: str) -> Responder:
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"--responder must be MODULE:FUNCTION, got {spec!r}")
    return getattr(importlib.import_module(module_name), attr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible server for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--script", help="JSON-lines file of replies and faults, used in order")
    parser.add_argument("--log", help="append every received request as a JSON line to this file")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each successful reply takes")
    parser.add_argument("--responder", help="MODULE:FUNCTION taking the request JSON and returning the reply text")
    parser.add_argument("--api-key", help="require this bearer key")
    parser.add_argument("--reply-words", type=int, help="pad the default reply to this many words")
    parser.add_argument("--stream-spread", action="store_true",
                        help="stream replies over the latency (first chunk after 10%%) instead of all at once after it")
    parser.add_argument("--batch-duration", type=float, default=0.0, help="seconds a batch takes to complete")
    parser.add_argument("--max-batch-requests", type=int, help="most requests one batch may hold")
    parser.add_argument("--max-file-bytes", type=int, help="largest upload in bytes")
    args = parser.parse_args(argv)

    responder = _load_responder(args.responder) if args.responder else None
    if args.reply_words:
        responder = padded_responder(args.reply_words)
    server = LoopbackOpenAI(
        responder,
        latency_s=args.latency,
        api_key=args.api_key,
        log_path=args.log,
        host=args.host,
        port=args.port,
    )
    if args.script:
        server.script(*load_script(args.script))
    server.stream_spread = args.stream_spread
    server.batch_api.duration_s = args.batch_duration
    if args.max_batch_requests:
        server.batch_api.max_batch_requests = args.max_batch_requests
    if args.max_file_bytes:
        server.batch_api.max_file_bytes = args.max_file_bytes
    return server.run_until_signalled(lambda: server.base_url)


if __name__ == "__main__":
    sys.exit(main())
