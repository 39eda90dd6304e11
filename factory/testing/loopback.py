"""What every loopback test server shares: a threaded HTTP server on 127.0.0.1 that a test starts and stops.

Why: the OpenAI, DeepL and Hub loopback servers differ in the protocol they
speak, not in how they live. This module holds that common part once: bind
(port 0 picks a free port), serve from a daemon thread, ``with`` support, the
URL to give the client, an in-flight counter for concurrency tests, the
foreground loop of their ``python -m`` entry points, and a request-handler
mixin that writes JSON or raw bodies with a correct ``Content-Length``.
Standard library only.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, TypeVar

_Self = TypeVar("_Self", bound="LoopbackHTTPServer")


class _OwnedServer(ThreadingHTTPServer):
    """The socket server; handlers reach the loopback object that started it as ``self.server.owner``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: Any,
                 queue_size: int) -> None:
        self.owner = owner
        self.request_queue_size = queue_size  # read by listen() inside the base __init__
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (tests and benchmarks close or kill clients on purpose) is not a server error."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class LoopbackHTTPServer:
    """Base of the loopback servers: lifecycle, address and in-flight accounting.

    A subclass sets ``handler_class`` (its request handler, which finds the
    subclass instance as ``self.server.owner``) and calls ``super().__init__``.
    ``_stop`` is set when the server stops, so a handler holding a request
    (latency, a scripted hang) can wait on it and be woken at shutdown.
    """

    handler_class: type[BaseHTTPRequestHandler]
    #: listen() backlog: concurrency tests open many connections at once
    request_queue_size = 128
    thread_name = "loopback-http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._address = (host, port)
        self._server: _OwnedServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self: _Self) -> _Self:
        self._server = _OwnedServer(self._address, self.handler_class, self, self.request_queue_size)
        self._stop.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes requests held by latency or a scripted hang
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self: _Self) -> _Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- address ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` a client can reach (a wildcard bind is reached on 127.0.0.1)."""
        host = self._address[0]
        host = "127.0.0.1" if host in ("", "0.0.0.0") else (f"[{host}]" if ":" in host else host)
        return f"http://{host}:{self.port}"

    def run_until_signalled(self, announce: Callable[[], str]) -> int:
        """Foreground mode of ``python -m``: print ``announce()`` (the URL) as the first line, serve until SIGTERM/SIGINT."""
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        with self:
            print(announce(), flush=True)
            while not done.wait(0.2):
                pass
        return 0

    # -- used by the handler threads -------------------------------------------------------
    def _enter(self) -> None:
        """A request is being held: count it towards ``max_in_flight``."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


class LoopbackHandler(BaseHTTPRequestHandler):
    """Request-handler base: HTTP/1.1 keep-alive, no access log, JSON and raw replies."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real clients expect
    server: _OwnedServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests read the server's log
        pass

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json", headers)

    def _send_raw(self, status: int, data: bytes, content_type: str | None, headers: dict[str, str] | None = None,
                  *, write_body: bool = True) -> None:
        """Send ``data`` with its length; ``write_body=False`` answers a HEAD (headers of the body, no body)."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if write_body:
            self.wfile.write(data)
        self.wfile.flush()
