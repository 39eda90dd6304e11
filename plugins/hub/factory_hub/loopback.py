"""A loopback Hugging Face Hub for tests (standard library only).

Why: publishing must be tested through the real ``huggingface_hub`` client
on the real wire protocol, including auth failures and flaky 5xx answers,
without the internet. This server keeps repositories in memory and speaks
what ``HfApi`` uses to create a repo and commit to it (read from
huggingface_hub 2.x ``hf_api.py``, ``_commit_api.py`` and ``lfs.py``):

- ``GET  /api/whoami-v2``
- ``POST /api/repos/create``                       (409 when it exists)
- ``GET  /api/{type}s/{ns}/{name}[/revision/{rev}]`` repo info
- ``POST /api/{type}s/{ns}/{name}/preupload/{rev}``  upload mode + remote oid per file
- ``POST /{prefix}{ns}/{name}.git/info/lfs/objects/batch``, the ``PUT`` upload
  and ``POST`` verify links it hands out (basic LFS transfer)
- ``POST /api/{type}s/{ns}/{name}/commit/{rev}``     NDJSON: header, file,
  lfsFile, deletedFile, deletedFolder lines; ``parentCommit`` checked
- ``GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]`` and
  ``POST .../paths-info/{rev}``
- ``POST /api/{type}s/{ns}/{name}/branch/{branch}``, ``GET .../refs``,
  ``GET .../commits/{rev}``
- ``HEAD|GET /{prefix}{ns}/{name}/resolve/{rev}/{path}`` downloads
- ``POST /api/validate-yaml`` (README metadata check done before commits)

Every request but the LFS upload link needs ``Authorization: Bearer <token>``;
a wrong or missing token gets the Hub's 401 (JSON ``error`` and an
``X-Error-Message`` header). A token may write to its user's and orgs'
namespaces only (403 otherwise). Faults are scripted with :meth:`fail_next`.
Xet storage is not implemented: clients must use the LFS path
(``huggingface_hub.constants.HF_HUB_DISABLE_XET = True``).

Usage::

    with LoopbackHub(token="hf_test") as hub:
        api = HfApi(endpoint=hub.url, token="hf_test")
        hub.fail_next(r"POST /api/datasets/.*/commit/", status=503)
        ...
        hub.commits("org/name")      # newest first
        hub.files("org/name")        # {path: bytes} at main
"""

from __future__ import annotations

import base64
import datetime as _dt
import fnmatch
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from factory.testing.loopback import LoopbackHandler, LoopbackHTTPServer

TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
DEFAULT_GITATTRIBUTES = (
    "*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    "*.arrow filter=lfs diff=lfs merge=lfs -text\n"
    "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.gz filter=lfs diff=lfs merge=lfs -text\n"
    "*.zip filter=lfs diff=lfs merge=lfs -text\n"
)
LFS_SIZE_LIMIT = 10 * 1024 * 1024  # regular git files above this must be LFS
SERVER_ERROR = "Internal Error - We're working hard to fix this as soon as possible!"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def oid(self) -> str:
        """The git blob id (of the pointer file for LFS blobs), as the Hub reports it."""
        return git_blob_sha1(lfs_pointer(self.sha256, len(self.data)) if self.lfs else self.data)

    @property
    def preupload_oid(self) -> str:
        """What ``huggingface_hub`` compares with its local oid: sha256 for LFS, git sha1 otherwise."""
        return self.sha256 if self.lfs else self.oid

    def entry(self, path: str) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "file", "oid": self.oid, "size": len(self.data), "path": path}
        if self.lfs:
            pointer = lfs_pointer(self.sha256, len(self.data))
            item["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": len(pointer)}
        return item


@dataclass
class Commit:
    oid: str
    parent: str | None
    tree: dict[str, Blob]
    title: str
    message: str
    date: str
    author: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision) or (revision if revision in self.commits else None)
        return self.commits.get(oid) if oid else None

    def history(self, revision: str) -> list[Commit]:
        commit = self.resolve(revision)
        found = []
        while commit is not None:
            found.append(commit)
            commit = self.commits.get(commit.parent) if commit.parent else None
        return found


@dataclass
class Fault:
    pattern: re.Pattern[str]
    remaining: int
    status: int
    apply: bool  # run the request first (its effect happens), then answer with the error


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class HubError(Exception):
    """An error reply in the Hub's format."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def reply(self) -> Reply:
        headers = {"X-Error-Message": self.message}
        if self.code:
            headers["X-Error-Code"] = self.code
        return _json_reply({"error": self.message}, self.status, headers)


def _json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                content_type: str = "application/json") -> Reply:
    return Reply(status, json.dumps(data).encode(), {"Content-Type": content_type, **(headers or {})})


class _Handler(LoopbackHandler):
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._read_body()
        reply = self.server.owner.handle(self.command, self.path, self.headers, body)
        self._send_raw(reply.status, reply.body, None, reply.headers, write_body=self.command != "HEAD")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve


class LoopbackHub(LoopbackHTTPServer):
    """In-memory Hub on 127.0.0.1 (random port), served from a background thread; ``url`` is its endpoint."""

    handler_class = _Handler
    thread_name = "loopback-hub"

    def __init__(self, token: str = "hf_loopback_test_token", user: str = "tester",
                 orgs: tuple[str, ...] = ("factory-org",)):
        super().__init__()
        self.token = token
        self.user = user
        self.orgs = tuple(orgs)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_store: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._faults: list[Fault] = []
        self._upload_nonces: set[str] = set()
        self._lock = threading.RLock()
        self._counter = 0

    # ------------------------------------------------------------ test controls

    def fail_next(self, pattern: str, times: int = 1, status: int = 500, apply: bool = False) -> None:
        """The next ``times`` requests whose ``"METHOD /path"`` matches ``pattern`` (regex) get ``status``.

        With ``apply=True`` the request is carried out first and only its answer is lost
        (a commit that happened although the client saw an error).
        """
        with self._lock:
            self._faults.append(Fault(re.compile(pattern), times, status, apply))

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def commits(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> list[Commit]:
        """Commits reachable from ``revision``, newest first (the creation commit included)."""
        return self.repo(repo_id, repo_type).history(revision)

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> dict[str, bytes]:
        commit = self.repo(repo_id, repo_type).resolve(revision)
        if commit is None:
            raise KeyError(revision)
        return {path: blob.data for path, blob in sorted(commit.tree.items())}

    def count(self, method: str, path_pattern: str) -> int:
        """How many requests matched ``method`` and ``path_pattern`` (regex), whatever their answer."""
        return sum(1 for m, p, _ in self.requests if m == method and re.search(path_pattern, p))

    # ------------------------------------------------------------ request handling

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> Reply:
        path = urlsplit(raw_path).path
        fault = self._take_fault(f"{method} {path}")
        if fault is not None and not fault.apply:
            reply = HubError(fault.status, SERVER_ERROR).reply()
        else:
            try:
                with self._lock:
                    reply = self._dispatch(method, raw_path, headers, body)
            except HubError as exc:
                reply = exc.reply()
            if fault is not None:
                reply = HubError(fault.status, SERVER_ERROR).reply()
        with self._lock:
            self.requests.append((method, path, reply.status))
        return reply

    def _take_fault(self, line: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.pattern.search(line):
                    fault.remaining -= 1
                    return fault
        return None

    def _auth(self, headers: Any) -> str:
        value = headers.get("Authorization") or ""
        if not value.startswith("Bearer ") or not value[7:].strip():
            raise HubError(401, "Invalid username or password.")
        if value[7:].strip() != self.token:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.user

    def _can_write(self, namespace: str) -> None:
        if namespace != self.user and namespace not in self.orgs:
            raise HubError(403, f"You don't have the rights to write to the namespace {namespace}")

    def _dispatch(self, method: str, raw_path: str, headers: Any, body: bytes) -> Reply:
        split = urlsplit(raw_path)
        query = parse_qs(split.query)
        parts = [unquote(p) for p in split.path.strip("/").split("/")]
        if parts[:2] == ["__lfs", "upload"] and method == "PUT":
            return self._lfs_put(parts, body)
        self._auth(headers)
        if parts == ["api", "whoami-v2"] and method == "GET":
            return self._whoami()
        if parts == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(_json_body(body))
        if parts == ["api", "validate-yaml"] and method == "POST":
            return self._validate_yaml(_json_body(body))
        if parts[:2] == ["__lfs", "verify"] and method == "POST":
            return self._lfs_verify(parts[2])
        if len(parts) >= 4 and parts[0] == "api" and parts[1] in ("models", "datasets", "spaces"):
            return self._repo_api(method, parts[1][:-1], f"{parts[2]}/{parts[3]}", parts[4:], query, body)
        lfs = self._match_repo_prefix(parts, ".git")
        if lfs is not None and method == "POST":
            repo_type, repo_id, rest = lfs
            if rest == ["info", "lfs", "objects", "batch"]:
                return self._lfs_batch(repo_type, repo_id, _json_body(body))
        resolve = self._match_repo_prefix(parts, "")
        if resolve is not None and method in ("GET", "HEAD"):
            repo_type, repo_id, rest = resolve
            if len(rest) >= 3 and rest[0] == "resolve":
                return self._resolve(repo_type, repo_id, rest[1], "/".join(rest[2:]))
        raise HubError(404, f"Sorry, we can't find the page you are looking for ({method} {split.path}).")

    @staticmethod
    def _match_repo_prefix(parts: list[str], name_suffix: str) -> tuple[str, str, list[str]] | None:
        """``[datasets, ns, name<suffix>, ...]`` or ``[ns, name<suffix>, ...]`` (models)."""
        for repo_type, prefix in (("dataset", "datasets"), ("space", "spaces"), ("model", None)):
            offset = 1 if prefix else 0
            if prefix and (not parts or parts[0] != prefix):
                continue
            if len(parts) < offset + 2 or not parts[offset + 1].endswith(name_suffix):
                continue
            name = parts[offset + 1][: len(parts[offset + 1]) - len(name_suffix)] if name_suffix else parts[offset + 1]
            return repo_type, f"{parts[offset]}/{name}", parts[offset + 2:]
        return None

    # ------------------------------------------------------------ repos

    def _get_repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _get_commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def _new_commit(self, repo: Repo, parent: Commit | None, tree: dict[str, Blob], title: str,
                    message: str = "") -> Commit:
        self._counter += 1
        seed = json.dumps([parent.oid if parent else None, sorted((p, b.oid) for p, b in tree.items()),
                           title, self._counter])
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), parent.oid if parent else None, tree, title,
                        message, _now(), self.user)
        repo.commits[commit.oid] = commit
        return commit

    def _whoami(self) -> Reply:
        return _json_reply({
            "type": "user", "id": "0" * 24, "name": self.user, "fullname": self.user.title(),
            "orgs": [{"type": "org", "name": org, "roleInOrg": "write"} for org in self.orgs],
            "auth": {"type": "access_token", "accessToken": {"displayName": "loopback", "role": "write"}},
        })

    def _create_repo(self, payload: dict[str, Any]) -> Reply:
        name = str(payload.get("name") or "")
        namespace = str(payload.get("organization") or self.user)
        repo_type = str(payload.get("type") or "model")
        if repo_type not in TYPE_PREFIX or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise HubError(400, "Invalid repo name or type")
        self._can_write(namespace)
        repo_id = f"{namespace}/{name}"
        url = f"{self.url}/{TYPE_PREFIX[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            return _json_reply({"error": f"You already created this {repo_type} repo", "url": url}, 409,
                               {"X-Error-Message": f"You already created this {repo_type} repo"})
        visibility = payload.get("visibility")
        private = visibility == "private" if visibility is not None else bool(payload.get("private", False))
        repo = Repo(repo_type, repo_id, private, _now())
        initial = self._new_commit(repo, None, {".gitattributes": Blob(DEFAULT_GITATTRIBUTES.encode(), False)},
                                   "initial commit")
        repo.branches["main"] = initial.oid
        self.repos[(repo_type, repo_id)] = repo
        return _json_reply({"url": url, "name": repo_id, "id": secrets.token_hex(12)})

    def _repo_api(self, method: str, repo_type: str, repo_id: str, rest: list[str], query: dict[str, list[str]],
                  body: bytes) -> Reply:
        repo = self._get_repo(repo_type, repo_id)
        if method == "GET" and not rest:
            return self._repo_info(repo, "main")
        if method == "GET" and len(rest) == 2 and rest[0] == "revision":
            return self._repo_info(repo, rest[1])
        if method == "GET" and rest == ["refs"]:
            return _json_reply({"branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": oid}
                                             for n, oid in sorted(repo.branches.items())],
                                "converts": [], "tags": []})
        if method == "GET" and len(rest) == 2 and rest[0] == "commits":
            self._get_commit(repo, rest[1])
            return _json_reply([{"id": c.oid, "title": c.title, "message": c.message, "date": c.date,
                                 "authors": [{"user": c.author}]} for c in repo.history(rest[1])])
        if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
            recursive = (query.get("recursive") or ["false"])[0].lower() in ("1", "true")
            return self._tree(repo, rest[1], "/".join(rest[2:]), recursive)
        if method != "POST" or len(rest) != 2:
            raise HubError(404, "Sorry, we can't find the page you are looking for.")
        action, revision = rest
        if action == "paths-info":
            form = parse_qs(body.decode())
            return self._paths_info(repo, revision, form.get("paths", []))
        self._can_write(repo_id.split("/")[0])
        if action == "preupload":
            return self._preupload(repo, revision, _json_body(body))
        if action == "commit":
            if query.get("create_pr"):
                raise HubError(400, "The loopback hub does not support pull requests")
            return self._commit(repo, revision, body)
        if action == "branch":
            return self._create_branch(repo, revision, _json_body(body) if body else {})
        raise HubError(404, "Sorry, we can't find the page you are looking for.")

    def _repo_info(self, repo: Repo, revision: str) -> Reply:
        commit = self._get_commit(repo, revision)
        return _json_reply({
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0], "sha": commit.oid, "private": repo.private, "gated": False,
            "disabled": False, "createdAt": repo.created_at, "lastModified": commit.date, "tags": [],
            "downloads": 0, "likes": 0, "siblings": [{"rfilename": p} for p in sorted(commit.tree)],
        })

    def _create_branch(self, repo: Repo, branch: str, payload: dict[str, Any]) -> Reply:
        if branch in repo.branches:
            raise HubError(409, "Reference already exists")
        start = self._get_commit(repo, str(payload.get("startingPoint") or "main"))
        repo.branches[branch] = start.oid
        return _json_reply({})

    # ------------------------------------------------------------ listing and download

    @staticmethod
    def _folders(tree: dict[str, Blob]) -> set[str]:
        found = set()
        for path in tree:
            parts = path.split("/")[:-1]
            found.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return found

    def _entry(self, tree: dict[str, Blob], path: str) -> dict[str, Any] | None:
        if path in tree:
            return tree[path].entry(path)
        if path in self._folders(tree):
            return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}
        return None

    def _tree(self, repo: Repo, revision: str, base: str, recursive: bool) -> Reply:
        tree = self._get_commit(repo, revision).tree
        if base and base not in self._folders(tree):
            raise HubError(404, f"{base} does not exist on \"{revision}\"", "EntryNotFound")
        prefix = f"{base}/" if base else ""
        paths = sorted((set(tree) | self._folders(tree)))
        chosen = [p for p in paths if p.startswith(prefix) and (recursive or "/" not in p[len(prefix):])]
        return _json_reply([self._entry(tree, p) for p in chosen])

    def _paths_info(self, repo: Repo, revision: str, paths: list[str]) -> Reply:
        tree = self._get_commit(repo, revision).tree
        entries = [self._entry(tree, p) for p in paths]
        return _json_reply([e for e in entries if e is not None])

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> Reply:
        repo = self._get_repo(repo_type, repo_id)
        commit = self._get_commit(repo, revision)
        blob = commit.tree.get(path)
        if blob is None:
            raise HubError(404, "Entry not found", "EntryNotFound")
        headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": commit.oid,
                   "ETag": f'"{blob.oid}"'}
        if blob.lfs:
            headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data))})
        return Reply(200, blob.data, headers)

    # ------------------------------------------------------------ uploads

    def _upload_mode(self, tree: dict[str, Blob], path: str, size: int) -> str:
        attributes = tree.get(".gitattributes")
        patterns = []
        for line in (attributes.data.decode(errors="replace") if attributes else "").splitlines():
            fields = line.split()
            if len(fields) >= 2 and "filter=lfs" in fields[1:]:
                patterns.append(fields[0])
        name = path.rsplit("/", 1)[-1]
        if size > LFS_SIZE_LIMIT or any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns):
            return "lfs"
        return "regular"

    def _preupload(self, repo: Repo, revision: str, payload: dict[str, Any]) -> Reply:
        commit = self._get_commit(repo, revision)
        files = []
        for item in payload.get("files") or []:
            path = str(item.get("path"))
            existing = commit.tree.get(path)
            files.append({"path": path, "uploadMode": self._upload_mode(commit.tree, path, int(item.get("size", 0))),
                          "shouldIgnore": False, "oid": existing.preupload_oid if existing else None})
        return _json_reply({"files": files, "commitOid": commit.oid})

    def _lfs_batch(self, repo_type: str, repo_id: str, payload: dict[str, Any]) -> Reply:
        self._get_repo(repo_type, repo_id)
        self._can_write(repo_id.split("/")[0])
        if payload.get("operation") != "upload":
            raise HubError(400, "Only uploads are supported")
        objects = []
        for item in payload.get("objects") or []:
            oid, size = str(item.get("oid")), int(item.get("size", 0))
            entry: dict[str, Any] = {"oid": oid, "size": size}
            if oid not in self.lfs_store:
                nonce = secrets.token_hex(8)
                self._upload_nonces.add(nonce)
                entry["authenticated"] = True
                entry["actions"] = {
                    "upload": {"href": f"{self.url}/__lfs/upload/{nonce}/{oid}", "header": {}},
                    "verify": {"href": f"{self.url}/__lfs/verify/{oid}", "header": {}},
                }
            objects.append(entry)
        return _json_reply({"transfer": "basic", "objects": objects}, content_type="application/vnd.git-lfs+json")

    def _lfs_put(self, parts: list[str], body: bytes) -> Reply:
        if len(parts) != 4 or parts[2] not in self._upload_nonces:
            raise HubError(403, "Request has expired or is not signed")
        oid = parts[3]
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, "Uploaded content does not match its sha256")
        self._upload_nonces.discard(parts[2])
        self.lfs_store[oid] = body
        return Reply(200)

    def _lfs_verify(self, oid: str) -> Reply:
        if oid not in self.lfs_store:
            raise HubError(404, "Object not found")
        return _json_reply({"success": True})

    def _validate_yaml(self, payload: dict[str, Any]) -> Reply:
        import yaml  # the core depends on PyYAML already

        content = str(payload.get("content") or "")
        match = re.match(r"\A---\s*\n(.*?)^---\s*$", content, re.DOTALL | re.MULTILINE)
        if match:
            try:
                data = yaml.safe_load(match.group(1))
            except yaml.YAMLError as exc:
                return _json_reply({"errors": [{"message": f"Invalid YAML: {exc}"}], "warnings": []}, 400)
            if data is not None and not isinstance(data, dict):
                return _json_reply({"errors": [{"message": "Metadata must be a mapping"}], "warnings": []}, 400)
        return _json_reply({"errors": [], "warnings": []})

    def _commit(self, repo: Repo, revision: str, body: bytes) -> Reply:
        if revision not in repo.branches:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first line of a commit must be its header")
        header = lines[0]["value"]
        parent = self._get_commit(repo, revision)
        if header.get("parentCommit") and not parent.oid.startswith(header["parentCommit"]):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        tree = dict(parent.tree)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value") or {}
            path = str(value.get("path", ""))
            if key == "file":
                tree[path] = Blob(base64.b64decode(value.get("content", "")), False)
            elif key == "lfsFile":
                oid = value.get("oid")
                if oid not in self.lfs_store:
                    raise HubError(422, f"Your push was rejected: LFS object {oid} was never uploaded")
                tree[path] = Blob(self.lfs_store[oid], True)
            elif key == "deletedFile":
                if path not in tree:
                    raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                del tree[path]
            elif key == "deletedFolder":
                tree = {p: b for p, b in tree.items() if not p.startswith(path.rstrip("/") + "/")}
            else:
                raise HubError(400, f"Unknown commit operation {key!r}")
        commit = self._new_commit(repo, parent, tree, str(header.get("summary") or ""),
                                  str(header.get("description") or ""))
        repo.branches[revision] = commit.oid
        url = f"{self.url}/{TYPE_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"
        return _json_reply({"success": True, "commitOid": commit.oid, "commitUrl": url,
                            "commitMessage": commit.title, "hookOutput": "", "pullRequestUrl": None})


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except json.JSONDecodeError:
        raise HubError(400, "Invalid JSON body") from None
    if not isinstance(value, dict):
        raise HubError(400, "Expected a JSON object")
    return value
