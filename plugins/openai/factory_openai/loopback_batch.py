"""The Files and Batches endpoints of the loopback OpenAI server (standard library only).

Why: the teacher's batch mode must be tested through the real ``openai``
client on the real wire format, with what a real batch does: it takes time
(``duration_s``: ``validating``, then ``in_progress`` with growing counts,
then ``completed``), some rows fail (a 500 or 429 in the error file), some
expire (``batch_expired``, the batch ends ``expired``), input files have
limits (bytes on upload, requests per batch). Endpoints:

- ``POST /v1/files`` (multipart, purpose ``batch``), ``GET /v1/files/{id}``,
  ``GET /v1/files/{id}/content``;
- ``POST /v1/batches``, ``GET /v1/batches`` (newest first, ``limit``/``after``),
  ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.

Each row is answered when its batch is created, by the same replies and
responder as online requests (:class:`~factory_openai.loopback.LoopbackOpenAI`),
and logged like an online request with the batch id, so a test can count
what was processed; the output appears once the batch is done.
"""

from __future__ import annotations

import collections
import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from factory_openai.loopback import LoopbackOpenAI

#: row faults: how one batch row fails
ROW_FAULTS = ("500", "429", "400", "expired")
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired (loopback)."


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes
    created: int

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created,
                "filename": self.filename, "purpose": self.purpose, "status": "processed"}


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    window: str
    metadata: dict[str, Any] | None
    created: float
    total: int
    ok_rows: list[dict[str, Any]] = field(default_factory=list)
    error_rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # validation errors: the batch failed
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    finished: str | None = None  # the final status once published


class BatchAPI:
    """Files and batches of one loopback server; the handler routes ``/v1/files*`` and ``/v1/batches*`` here."""

    def __init__(self, owner: "LoopbackOpenAI"):
        self.owner = owner
        self.duration_s = 0.0  # simulated time from creation to completion
        self.max_file_bytes = 200 * 1000 * 1000
        self.max_batch_requests = 50_000
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}
        self._row_faults: collections.deque[str | None] = collections.deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def fail_next_rows(self, *faults: str | None) -> None:
        """The next rows processed (in file order, across batches) fail this way; None answers normally."""
        for fault in faults:
            if fault is not None and fault not in ROW_FAULTS:
                raise ValueError(f"unknown row fault {fault!r} (known: {', '.join(ROW_FAULTS)})")
        with self._lock:
            self._row_faults.extend(faults)

    # -- routing ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any, str]:
        """(status, payload, content type) for one request; a dict/list payload is sent as JSON."""
        parts = urlsplit(path)
        segments = [s for s in parts.path.split("/") if s][1:]  # drop "v1"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        kind = segments[0] if segments else ""
        try:
            if kind == "files" and method == "POST" and len(segments) == 1:
                return self._upload(headers, raw)
            if kind == "files" and method == "GET" and len(segments) in (2, 3):
                return self._file(segments[1], content=len(segments) == 3 and segments[2] == "content")
            if kind == "batches" and method == "POST" and len(segments) == 1:
                return self._create(json.loads(raw or b"{}"))
            if kind == "batches" and method == "POST" and len(segments) == 3 and segments[2] == "cancel":
                return self._cancel(segments[1])
            if kind == "batches" and method == "GET" and len(segments) == 1:
                return self._list(int(query.get("limit", 20)), query.get("after"))
            if kind == "batches" and method == "GET" and len(segments) == 2:
                return self._retrieve(segments[1])
        except ValueError as exc:
            return 400, self.owner._error_payload(f"bad request: {exc}", "invalid_request_error", None), "json"
        return 404, self.owner._error_payload(f"unknown path {path}", "invalid_request_error", None), "json"

    # -- files -----------------------------------------------------------------------------
    def _upload(self, headers: Any, raw: bytes) -> tuple[int, Any, str]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + str(headers.get("Content-Type", "")).encode() + b"\r\n\r\n" + raw)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
        if "file" not in fields:
            raise ValueError("no 'file' part in the upload")
        filename, data = fields["file"]
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if len(data) > self.max_file_bytes:
            message_text = f"File is {len(data)} bytes; the limit is {self.max_file_bytes} bytes (loopback)."
            return 413, self.owner._error_payload(message_text, "invalid_request_error", "file_too_large"), "json"
        with self._lock:
            file = _File(self._next_id("file"), filename or "upload.jsonl", purpose, data, int(time.time()))
            self.files[file.id] = file
        self.owner._record("/v1/files", {"filename": file.filename, "purpose": purpose, "bytes": len(data),
                                         "lines": data.count(b"\n")}, None, method="POST")
        return 200, file.json(), "json"

    def _file(self, file_id: str, *, content: bool) -> tuple[int, Any, str]:
        with self._lock:
            file = self.files.get(file_id)
        if file is None:
            return 404, self.owner._error_payload(f"No such File object: {file_id}", "invalid_request_error", None), "json"
        return (200, file.data, "application/octet-stream") if content else (200, file.json(), "json")

    # -- batches ---------------------------------------------------------------------------
    def _create(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        file_id, endpoint = body.get("input_file_id"), body.get("endpoint")
        with self._lock:
            file = self.files.get(str(file_id))
        if file is None:
            return 404, self.owner._error_payload(f"No such File object: {file_id}", "invalid_request_error", None), "json"
        if endpoint not in ("/v1/chat/completions", "/v1/completions"):
            raise ValueError(f"unsupported endpoint {endpoint!r}")
        lines = [line for line in file.data.decode("utf-8").splitlines() if line.strip()]
        with self._lock:
            batch = _Batch(self._next_id("batch"), file.id, str(endpoint), str(body.get("completion_window", "24h")),
                           body.get("metadata"), time.time(), len(lines))
            self.batches[batch.id] = batch
        self.owner._record("/v1/batches", body, None, method="POST")
        if len(lines) > self.max_batch_requests:
            batch.errors.append({"code": "too_many_requests_in_file", "line": None, "param": None,
                                 "message": f"{len(lines)} requests; a batch holds at most {self.max_batch_requests}."})
        else:
            self._process(batch, lines)
        return 200, self._json(batch), "json"

    def _process(self, batch: _Batch, lines: list[str]) -> None:
        """Answer every row now (published when the batch is done); bad lines fail the batch."""
        seen: set[str] = set()
        rows: list[dict[str, Any]] = []
        for number, line in enumerate(lines, start=1):
            try:
                row = json.loads(line)
                custom_id, url, body = row["custom_id"], row["url"], row["body"]
            except (ValueError, KeyError, TypeError):
                batch.errors.append({"code": "invalid_json_line", "line": number, "param": None,
                                     "message": "This line is not a valid batch request (loopback)."})
                return
            if custom_id in seen:
                batch.errors.append({"code": "duplicate_custom_id", "line": number, "param": "custom_id",
                                     "message": f"The custom_id {custom_id!r} appears more than once (loopback)."})
                return
            if url != batch.endpoint or row.get("method") != "POST":
                batch.errors.append({"code": "mismatched_endpoint", "line": number, "param": "url",
                                     "message": f"The url {url!r} does not match the batch endpoint (loopback)."})
                return
            seen.add(custom_id)
            rows.append(row)
        for row in rows:
            with self._lock:
                fault = self._row_faults.popleft() if self._row_faults else None
            self.owner._record(row["url"], row["body"], (fault,) if fault else None, batch=batch.id)
            self._answer(batch, row, fault)

    def _answer(self, batch: _Batch, row: dict[str, Any], fault: str | None) -> None:
        request_id = self._next_id("req")
        base = {"id": self._next_id("batch_req"), "custom_id": row["custom_id"]}
        if fault == "expired":
            batch.error_rows.append({**base, "response": None, "error": {"code": "batch_expired", "message": EXPIRED_MESSAGE}})
            return
        if fault is not None:
            status, message, kind = {"500": (500, "The server had an error processing this request (loopback).", "server_error"),
                                     "429": (429, "Rate limit reached for this batch row (loopback).", "rate_limit_exceeded"),
                                     "400": (400, "Invalid request in this batch row (loopback).", "invalid_request_error")}[fault]
            response = {"status_code": status, "request_id": request_id,
                        "body": {"error": {"message": message, "type": kind, "param": None, "code": None}}}
            batch.error_rows.append({**base, "response": response, "error": None})
            return
        chat = row["url"].endswith("chat/completions")
        body = row["body"]
        reply = self.owner._next_reply(body)
        response = {"status_code": 200, "request_id": request_id, "body": self.owner._build(chat, body, [reply])}
        batch.ok_rows.append({**base, "response": response, "error": None})

    def _retrieve(self, batch_id: str) -> tuple[int, Any, str]:
        with self._lock:
            batch = self.batches.get(batch_id)
        if batch is None:
            return 404, self.owner._error_payload(f"No such Batch object: {batch_id}", "invalid_request_error", None), "json"
        self.owner._record(f"/v1/batches/{batch_id}", {}, None, method="GET")
        return 200, self._json(batch), "json"

    def _cancel(self, batch_id: str) -> tuple[int, Any, str]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is not None and batch.finished is None:
                batch.cancelled_at = time.time()
        if batch is None:
            return 404, self.owner._error_payload(f"No such Batch object: {batch_id}", "invalid_request_error", None), "json"
        return 200, self._json(batch), "json"

    def _list(self, limit: int, after: str | None) -> tuple[int, Any, str]:
        with self._lock:
            ordered = sorted(self.batches.values(), key=lambda b: b.created, reverse=True)
        if after is not None:
            ids = [b.id for b in ordered]
            ordered = ordered[ids.index(after) + 1:] if after in ids else []
        page = ordered[:max(1, min(limit, 100))]
        data = [self._json(b) for b in page]
        return 200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                     "last_id": data[-1]["id"] if data else None, "has_more": len(ordered) > len(page)}, "json"

    # -- the batch object ------------------------------------------------------------------
    def _status(self, batch: _Batch) -> tuple[str, int]:
        """(status, rows done) at this moment; publishes the output files when the batch ends."""
        if batch.finished is not None:
            return batch.finished, batch.total
        if batch.errors:
            return "failed", 0
        if batch.cancelled_at is not None:
            self._publish(batch, "cancelled", rows=False)
            return "cancelled", 0
        elapsed = time.time() - batch.created
        if elapsed < self.duration_s:
            if elapsed < 0.25 * self.duration_s:
                return "validating", 0
            return "in_progress", int(batch.total * elapsed / self.duration_s)
        expired = any(row["error"] and row["error"].get("code") == "batch_expired" for row in batch.error_rows)
        self._publish(batch, "expired" if expired else "completed", rows=True)
        return batch.finished or "completed", batch.total

    def _publish(self, batch: _Batch, status: str, *, rows: bool) -> None:
        with self._lock:
            if batch.finished is not None:
                return
            if rows and batch.ok_rows:
                batch.output_file_id = self._store(f"{batch.id}_output.jsonl", batch.ok_rows)
            if rows and batch.error_rows:
                batch.error_file_id = self._store(f"{batch.id}_error.jsonl", batch.error_rows)
            batch.finished = status

    def _store(self, filename: str, rows: list[dict[str, Any]]) -> str:
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        file = _File(self._next_id("file"), filename, "batch_output", data, int(time.time()))
        self.files[file.id] = file
        return file.id

    def _json(self, batch: _Batch) -> dict[str, Any]:
        status, done = self._status(batch)
        failed = len(batch.error_rows) if status in ("completed", "expired") else 0
        created = int(batch.created)
        return {
            "id": batch.id, "object": "batch", "endpoint": batch.endpoint, "input_file_id": batch.input_file_id,
            "completion_window": batch.window, "status": status, "created_at": created,
            "expires_at": created + 86400, "metadata": batch.metadata,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
            "request_counts": {"total": batch.total, "completed": done - failed if status != "in_progress" else done,
                               "failed": failed},
        }

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-loopback-{next(self._ids)}"
