"""A loopback DeepL API server for tests and benchmarks (standard library only).

Why: the ``deepl`` translator must be tested through the real ``deepl``
client on DeepL's real wire format, including what costs users money: the
character quota (HTTP 456), rate limits (429 with Retry-After), 5xx and slow
answers. It speaks the parts of DeepL's v2 API the client uses for text:

- ``POST /v2/translate`` (JSON as the ``deepl`` client sends it, or form
  fields with repeated ``text``): ``text[]``, ``source_lang``,
  ``target_lang``, ``tag_handling``, ``ignore_tags``, ``glossary_id``,
  ``formality``; answers ``translations[]`` with ``billed_characters``;
- ``GET``/``POST /v2/usage``, ``GET /v2/languages``,
  ``GET /v2/glossary-language-pairs``;
- ``POST``/``GET /v2/glossaries``, ``GET``/``DELETE /v2/glossaries/{id}``,
  ``GET /v2/glossaries/{id}/entries`` (TSV).

Requests need ``Authorization: DeepL-Auth-Key <auth_key>`` (403 otherwise).
DeepL's request limits are enforced (50 texts, 128 KiB per request: 413),
so batching bugs fail loudly.

The fake "translation" is deterministic and reversible: every ASCII letter of
the free text becomes a Hangul syllable (:func:`fake_translate`,
:func:`untranslate`), glossary terms are replaced by their target term, and
XML tags, entities and the content of ignored tags are kept byte-identical,
as DeepL does with ``tag_handling=xml``. A span that was NOT protected comes
back visibly changed, so protection tests can fail.

Billed characters follow DeepL's rule: characters of the source text, not
counting XML tags when ``tag_handling`` is set (an entity counts as one).

In-process::

    with LoopbackDeepL(character_limit=10_000) as server:
        server.inject(("429", 0.1), ("503",))
        client = deepl.DeepLClient("key", server_url=server.server_url)

As a separate process: ``python -m factory_deepl.loopback --port 0``
prints the server URL on its first stdout line and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import collections
import csv
import html
import io
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from factory.testing.loopback import LoopbackHandler, LoopbackHTTPServer

MAX_TEXTS_PER_REQUEST = 50
MAX_REQUEST_BYTES = 128 * 1024
QUOTA_STATUS = 456

#: fault name -> number of optional arguments
FAULTS: dict[str, int] = {
    "429": 1,  # ("429", retry_after_seconds)
    "500": 0,
    "503": 0,
    "slow": 1,  # ("slow", seconds): hold the request, then answer normally (and bill)
    "456": 0,  # quota exceeded regardless of the counter
}

_GLOSSARY_PAIRS = [("en", "ko"), ("ko", "en"), ("en", "de"), ("de", "en"), ("en", "ja"), ("ja", "en")]
_TOKEN_RE = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9A-Fa-f]+|\w+);")
_SYLLABLE_BASE = 0xAC00  # 가
_SYLLABLE_STEP = 28  # next vowel, no final consonant: 가 개 갸 걔 거 ...
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TO_HANGUL = {c: chr(_SYLLABLE_BASE + i * _SYLLABLE_STEP) for i, c in enumerate(_LETTERS)}
_FROM_HANGUL = {v: k for k, v in _TO_HANGUL.items()}


def _transliterate(text: str, target_lang: str) -> str:
    if target_lang.upper().startswith("KO"):
        return "".join(_TO_HANGUL.get(ch, ch) for ch in text)
    return text.swapcase()


def untranslate(text: str) -> str:
    """Invert the KO fake translation's letters (glossary terms and kept spans stay as they are)."""
    return "".join(_FROM_HANGUL.get(ch, ch) for ch in text)


def _translate_free(text: str, target_lang: str, glossary: dict[str, str]) -> str:
    if not glossary:
        return _transliterate(text, target_lang)
    terms = sorted(glossary, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")(?!\w)")
    pieces, position = [], 0
    for match in pattern.finditer(text):
        pieces.append(_transliterate(text[position : match.start()], target_lang))
        pieces.append(glossary[match.group(1)])
        position = match.end()
    pieces.append(_transliterate(text[position:], target_lang))
    return "".join(pieces)


def _xml_parts(text: str, ignore_tags: set[str]) -> list[tuple[str, str]]:
    """Split XML text into ("keep", markup-or-ignored) and ("text", free text) parts."""
    parts: list[tuple[str, str]] = []
    position = 0
    ignoring: list[str] = []
    kept_start = 0
    for match in _TOKEN_RE.finditer(text):
        token = match.group(0)
        name_match = re.match(r"<\s*(/?)\s*([\w:.-]+)", token)
        if ignoring:
            if name_match and name_match.group(1) == "/" and name_match.group(2) == ignoring[-1]:
                ignoring.pop()
                if not ignoring:
                    parts.append(("keep", text[kept_start : match.end()]))
                    position = match.end()
            elif name_match and not name_match.group(1) and name_match.group(2) == ignoring[-1] and not token.endswith("/>"):
                ignoring.append(name_match.group(2))
            continue
        if match.start() > position:
            parts.append(("text", text[position : match.start()]))
        if token.startswith("<"):
            if name_match and not name_match.group(1) and name_match.group(2) in ignore_tags and not token.endswith("/>"):
                ignoring.append(name_match.group(2))
                kept_start = match.start()
                position = match.end()
                continue
            parts.append(("keep", token))
        else:
            parts.append(("entity", token))
        position = match.end()
    if ignoring:  # unclosed ignored element: keep the rest as is
        parts.append(("keep", text[kept_start:]))
    elif position < len(text):
        parts.append(("text", text[position:]))
    return parts


def billed_characters(text: str, tag_handling: str | None) -> int:
    """DeepL's count: source characters; with tag handling, tags are free and an entity is one character."""
    if not tag_handling:
        return len(text)
    return len(html.unescape(re.sub(r"<[^<>]*>", "", text)))


def fake_translate(
    text: str,
    *,
    target_lang: str,
    tag_handling: str | None = None,
    ignore_tags: set[str] | frozenset[str] = frozenset(),
    glossary: dict[str, str] | None = None,
) -> str:
    """The loopback server's deterministic "translation" of one text."""
    glossary = glossary or {}
    if not tag_handling:
        return _translate_free(text, target_lang, glossary)
    out = []
    for kind, piece in _xml_parts(text, set(ignore_tags)):
        out.append(_translate_free(piece, target_lang, glossary) if kind == "text" else piece)
    return "".join(out)


@dataclass
class Glossary:
    glossary_id: str
    name: str
    source_lang: str
    target_lang: str
    entries: dict[str, str]
    creation_time: str

    def info(self) -> dict[str, Any]:
        return {
            "glossary_id": self.glossary_id,
            "name": self.name,
            "ready": True,
            "source_lang": self.source_lang,
            "target_lang": self.target_lang,
            "creation_time": self.creation_time,
            "entry_count": len(self.entries),
        }


@dataclass
class LoggedRequest:
    """One request as the server saw it; ``status`` 0 means still held (a ``slow`` fault)."""

    t: float
    method: str
    path: str
    status: int
    texts: list[str] = field(default_factory=list)
    billed_characters: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    fault: tuple | None = None


def _parse_entries(entries: str, entries_format: str) -> dict[str, str]:
    result: dict[str, str] = {}
    if entries_format == "csv":
        for row in csv.reader(io.StringIO(entries)):
            if len(row) >= 2 and row[0].strip():
                result[row[0].strip()] = row[1].strip()
        return result
    for line in entries.splitlines():
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"entry without a tab: {line!r}")
        source, target = line.split("\t", 1)
        result[source.strip()] = target.strip()
    return result


class _Handler(LoopbackHandler):
    # -- dispatch --------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        try:
            if owner.auth_key is not None and self.headers.get("Authorization") != f"DeepL-Auth-Key {owner.auth_key}":
                owner._log(method, path, 403)
                self._send_json(403, {"message": "Wrong endpoint or invalid auth key (loopback)"})
                return
            if len(raw) > MAX_REQUEST_BYTES:
                owner._log(method, path, 413)
                self._send_json(413, {"message": "Request Entity Too Large"})
                return
            params = self._params(raw, url.query)
            if params is None:
                owner._log(method, path, 400)
                self._send_json(400, {"message": "Bad request: body is not JSON"})
                return
            owner._enter()
            try:
                self._route(owner, method, path, params)
            finally:
                owner._leave()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def _params(self, raw: bytes, query: str) -> dict[str, Any] | None:
        params: dict[str, Any] = {key: values if key in ("text", "ignore_tags") else values[-1] for key, values in parse_qs(query).items()}
        if not raw:
            return params
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                body = json.loads(raw)
            except ValueError:
                return None
            params.update(body if isinstance(body, dict) else {})
            return params
        for key, values in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
            params[key] = values if key in ("text", "ignore_tags") else values[-1]
        return params

    def _route(self, owner: "LoopbackDeepL", method: str, path: str, params: dict[str, Any]) -> None:
        if path == "/v2/translate" and method == "POST":
            self._translate(owner, params)
        elif path == "/v2/usage" and method in ("GET", "POST"):
            owner._log(method, path, 200)
            self._send_json(200, owner.usage())
        elif path == "/v2/languages" and method in ("GET", "POST"):
            owner._log(method, path, 200)
            langs = [{"language": code, "name": name} for code, name in (("EN", "English"), ("KO", "Korean"), ("DE", "German"), ("JA", "Japanese"))]
            self._send_json(200, langs)
        elif path == "/v2/glossary-language-pairs" and method == "GET":
            owner._log(method, path, 200)
            pairs = [{"source_lang": s, "target_lang": t} for s, t in _GLOSSARY_PAIRS]
            self._send_json(200, {"supported_languages": pairs})
        elif path == "/v2/glossaries" and method == "POST":
            self._create_glossary(owner, params)
        elif path == "/v2/glossaries" and method == "GET":
            owner._log(method, path, 200)
            with owner._lock:
                infos = [g.info() for g in owner.glossaries.values()]
            self._send_json(200, {"glossaries": infos})
        elif path.startswith("/v2/glossaries/"):
            self._glossary_item(owner, method, path)
        else:
            owner._log(method, path, 404)
            self._send_json(404, {"message": f"Not found: {method} {path}"})

    # -- endpoints -------------------------------------------------------------------------
    def _translate(self, owner: "LoopbackDeepL", params: dict[str, Any]) -> None:
        texts = params.get("text")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        fault = owner._next_fault()
        # Logged on arrival (status 0 while held), so a request the client gave up on still shows.
        entry = owner._log("POST", "/v2/translate", 0, texts, params=params, fault=fault)
        if fault is not None and fault[0] == "slow":
            owner._stop.wait(float(fault[1]) if len(fault) > 1 else 30.0)
        elif fault is not None:
            entry.status = int(fault[0])
            self._send_fault(fault)
            return
        status, payload = self._translation(owner, params, texts)
        if status == 200:
            entry.billed_characters = sum(t["billed_characters"] for t in payload["translations"])
        entry.status = status
        self._send_json(status, payload)

    def _translation(self, owner: "LoopbackDeepL", params: dict[str, Any], texts: list[str]) -> tuple[int, Any]:
        if not texts or not params.get("target_lang"):
            return 400, {"message": "Parameter 'text' and 'target_lang' are required"}
        if len(texts) > MAX_TEXTS_PER_REQUEST:
            return 413, {"message": f"Too many texts: at most {MAX_TEXTS_PER_REQUEST} per request"}
        glossary: dict[str, str] = {}
        glossary_id = params.get("glossary_id")
        if glossary_id:
            with owner._lock:
                found = owner.glossaries.get(glossary_id)
            if found is None:
                return 404, {"message": "Glossary not found"}
            if found.source_lang != str(params.get("source_lang", "")).lower():
                return 400, {"message": "Glossary languages do not match source_lang"}
            glossary = found.entries
        tag_handling = params.get("tag_handling") or None
        ignore = params.get("ignore_tags") or []
        ignore = [ignore] if isinstance(ignore, str) else ignore
        ignore_tags = {tag.strip() for item in ignore for tag in str(item).split(",") if tag.strip()}
        counts = [billed_characters(t, tag_handling) for t in texts]
        if not owner._charge(sum(counts)):
            return QUOTA_STATUS, {"message": "Quota Exceeded"}
        target = str(params["target_lang"])
        source = str(params.get("source_lang") or "EN").upper()
        translations = [
            {
                "detected_source_language": source,
                "text": fake_translate(t, target_lang=target, tag_handling=tag_handling, ignore_tags=ignore_tags, glossary=glossary),
                "billed_characters": count,
            }
            for t, count in zip(texts, counts)
        ]
        return 200, {"translations": translations}

    def _send_fault(self, fault: tuple) -> None:
        name, *args = fault
        if name == "429":
            headers = {"Retry-After": f"{float(args[0]):g}"} if args and args[0] is not None else {}
            self._send_json(429, {"message": "Too many requests (loopback)"}, headers)
        elif name == "456":
            self._send_json(QUOTA_STATUS, {"message": "Quota Exceeded"})
        else:
            self._send_json(int(name), {"message": f"Loopback fault {name}"})

    def _create_glossary(self, owner: "LoopbackDeepL", params: dict[str, Any]) -> None:
        path = "/v2/glossaries"
        name = str(params.get("name") or "")
        source = str(params.get("source_lang") or "").lower()
        target = str(params.get("target_lang") or "").lower()
        if not name or (source, target) not in _GLOSSARY_PAIRS:
            owner._log("POST", path, 400, params=params)
            self._send_json(400, {"message": "Invalid glossary name or unsupported language pair"})
            return
        try:
            entries = _parse_entries(str(params.get("entries") or ""), str(params.get("entries_format") or "tsv"))
        except ValueError as exc:
            owner._log("POST", path, 400, params=params)
            self._send_json(400, {"message": f"Invalid glossary entries: {exc}"})
            return
        if not entries:
            owner._log("POST", path, 400, params=params)
            self._send_json(400, {"message": "Glossary entries must not be empty"})
            return
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        glossary = Glossary(str(uuid.uuid4()), name, source, target, entries, created.replace("Z", "+00:00"))
        with owner._lock:
            owner.glossaries[glossary.glossary_id] = glossary
        owner._log("POST", path, 201, params=params)
        self._send_json(201, glossary.info())

    def _glossary_item(self, owner: "LoopbackDeepL", method: str, path: str) -> None:
        rest = path[len("/v2/glossaries/") :].split("/")
        with owner._lock:
            glossary = owner.glossaries.get(rest[0])
        if glossary is None or len(rest) > 2 or (len(rest) == 2 and rest[1] != "entries"):
            owner._log(method, path, 404)
            self._send_json(404, {"message": "Glossary not found"})
            return
        if len(rest) == 2 and method == "GET":
            owner._log(method, path, 200)
            tsv = "\n".join(f"{s}\t{t}" for s, t in glossary.entries.items())
            self._send_raw(200, tsv.encode("utf-8"), "text/tab-separated-values")
        elif len(rest) == 1 and method == "GET":
            owner._log(method, path, 200)
            self._send_json(200, glossary.info())
        elif len(rest) == 1 and method == "DELETE":
            with owner._lock:
                owner.glossaries.pop(glossary.glossary_id, None)
            owner._log(method, path, 204)
            self._send_raw(204, b"", "application/json")
        else:
            owner._log(method, path, 405)
            self._send_json(405, {"message": "Method not allowed"})


class LoopbackDeepL(LoopbackHTTPServer):
    """A DeepL-compatible server on 127.0.0.1 in a background thread; use as a context manager.

    ``character_limit`` is the account's quota (None: unlimited); a translate
    request that would pass it is refused whole with 456, as DeepL does.
    ``requests`` logs every request with its texts and billed characters.
    """

    handler_class = _Handler
    request_queue_size = 256

    def __init__(
        self,
        *,
        auth_key: str | None = "loopback-key",
        character_limit: int | None = None,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.auth_key = auth_key
        self.character_limit = character_limit
        self.latency_s = latency_s
        self.character_count = 0
        self.glossaries: dict[str, Glossary] = {}
        self.requests: list[LoggedRequest] = []
        self._faults: collections.deque[tuple] = collections.deque()

    @property
    def server_url(self) -> str:
        """What the deepl client takes as ``server_url``."""
        return self.url

    # -- scripting and inspection ----------------------------------------------------------
    def inject(self, *faults: tuple) -> None:
        """Queue faults for the next translate requests: ``("429", 0.1)``, ``("500",)``, ``("503",)``, ``("slow", 2.0)``, ``("456",)``."""
        with self._lock:
            for fault in faults:
                name = str(fault[0])
                if name not in FAULTS or len(fault) - 1 > FAULTS[name]:
                    raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
                self._faults.append((name, *fault[1:]))

    def pending(self) -> int:
        with self._lock:
            return len(self._faults)

    def usage(self) -> dict[str, int]:
        with self._lock:
            limit = self.character_limit if self.character_limit is not None else 10**12
            return {"character_count": self.character_count, "character_limit": limit}

    def translate_requests(self, status: int | None = 200) -> list[LoggedRequest]:
        """Logged ``/v2/translate`` requests (only those answered with ``status``; None: all)."""
        with self._lock:
            return [r for r in self.requests if r.path == "/v2/translate" and (status is None or r.status == status)]

    def translated_texts(self) -> list[str]:
        """Every text the server translated successfully, in arrival order (repeats included)."""
        return [t for r in self.translate_requests() for t in r.texts]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- used by the handler threads -------------------------------------------------------
    def _next_fault(self) -> tuple | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _charge(self, characters: int) -> bool:
        if self.latency_s > 0:
            self._stop.wait(self.latency_s)
        with self._lock:
            if self.character_limit is not None and self.character_count + characters > self.character_limit:
                return False
            self.character_count += characters
            return True

    def _log(
        self,
        method: str,
        path: str,
        status: int,
        texts: list[str] | None = None,
        billed: int = 0,
        *,
        params: dict[str, Any] | None = None,
        fault: tuple | None = None,
    ) -> LoggedRequest:
        safe = {k: v for k, v in (params or {}).items() if k not in ("text", "entries")}
        entry = LoggedRequest(time.time(), method, path, status, list(texts or []), billed, safe, fault)
        with self._lock:
            self.requests.append(entry)
        return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback DeepL API server for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--auth-key", default="loopback-key", help="required DeepL-Auth-Key")
    parser.add_argument("--character-limit", type=int, default=None, help="account quota; 456 once it would be passed")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each translate request takes")
    args = parser.parse_args(argv)
    server = LoopbackDeepL(auth_key=args.auth_key, character_limit=args.character_limit, latency_s=args.latency, host=args.host, port=args.port)
    return server.run_until_signalled(lambda: server.server_url)


if __name__ == "__main__":
    sys.exit(main())
