"""Publish an exported dataset folder to the Hugging Face Hub as one commit.

Order of work, and why:

1. scan every file for secrets and refuse, naming the file, before any
   network traffic (a leaked key cannot be unpublished);
2. ``--dry-run``: copy the exact tree into a folder and stop (no token needed);
3. check the token (``whoami``) so a bad one is one clear line, not a 401
   halfway through an upload;
4. create the repo if missing (private unless asked otherwise) and the
   branch if one is named;
5. list the remote tree, upload only what differs, in ONE ``create_commit``;
   nothing differs -> no commit at all;
6. on 5xx/429/connection errors, wait and try again (bounded); each attempt
   re-lists the remote first, so a commit that landed although its answer
   was lost is recognised instead of duplicated.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, TypeVar
from urllib.parse import urlsplit

import pydantic
from pydantic import Field

from factory.contracts import Options, Requirement, runtime
from factory.publishers import Publisher
from factory import __version__
from factory.errors import StopRun, UserError
from factory.publishers import PublishResult
from factory.secrets_scan import scan_paths

from factory_hub.tree import LocalFile, local_tree, plan_commit, write_tree

DEFAULT_ENDPOINT = "https://huggingface.co"
REPO_TYPE = "dataset"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
T = TypeVar("T")


class HubOptions(Options):
    """The recipe's ``publish`` options for the ``hub`` publisher (besides plugin/repo/private/revision)."""

    endpoint: str | None = Field(None, description="Hub URL; default: $HF_ENDPOINT, else https://huggingface.co.")
    max_attempts: int = runtime(4, ge=1, le=20, description="Attempts of each Hub call on 5xx, 429 or connection errors.")
    backoff_initial_s: float = runtime(2.0, ge=0, description="First wait between attempts (seconds), doubled each time.")
    commit_message: str | None = Field(None, description="Commit title; default names factory and its version.")


class RetryableHubError(Exception):
    """A Hub failure worth another attempt."""


class HubPublisher(Publisher):
    """Publisher ``hub``; built as ``HubPublisher(options)``."""

    options_model: ClassVar[type[pydantic.BaseModel]] = HubOptions

    @classmethod
    def requirements_for(cls, options: HubOptions) -> list[Requirement]:
        return [Requirement(module="huggingface_hub", install="pip install koalpaca-factory-hub", why="publisher hub")]

    # ------------------------------------------------------------ settings

    @property
    def endpoint(self) -> str:
        endpoint = (self.options.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        split = urlsplit(endpoint)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise UserError(f"publish.endpoint / HF_ENDPOINT: expected an http(s) URL, got {endpoint!r}")
        return endpoint

    @staticmethod
    def token() -> str:
        """HF_TOKEN, else the token saved by ``hf auth login`` (huggingface_hub's own lookup)."""
        from huggingface_hub import get_token

        token = os.environ.get("HF_TOKEN") or get_token()
        if not token:
            raise UserError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
        return token

    def repo_url(self, repo: str, revision: str | None = None) -> str:
        url = f"{self.endpoint}/datasets/{repo}"
        return f"{url}/tree/{revision}" if revision else url

    # ------------------------------------------------------------ publish

    def publish(self, folder: Path, repo: str, *, private: bool = True, revision: str | None = None,
                dry_run_dir: Path | None = None) -> PublishResult:
        """Upload every file under ``folder`` as one commit to dataset repo ``repo`` (see module doc)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"{folder}: no exported dataset folder here (run the export first)")
        if not _REPO_ID.fullmatch(repo):
            raise UserError(f"--repo {repo!r}: expected ORG/NAME (letters, digits, '.', '_', '-')")
        if revision is not None and not revision.strip():
            raise UserError("--revision: the branch name is empty")
        files = local_tree(folder)
        if not files:
            raise UserError(f"{folder}: nothing to publish (the folder is empty)")
        refuse_secrets(files)
        paths = [f.path for f in files]
        if dry_run_dir is not None:
            write_tree(files, Path(dry_run_dir))
            return PublishResult(url=self.repo_url(repo, revision), commit=None, files=paths)

        from huggingface_hub import HfApi, constants

        if constants.is_offline_mode():
            raise UserError("HF_HUB_OFFLINE is set: unset it to publish (or use --dry-run)")
        endpoint = self.endpoint
        api = HfApi(endpoint=endpoint, token=self.token(), library_name="factory", library_version=__version__)
        branch = revision or "main"
        with hub_errors(endpoint, repo):
            self._retrying(api.whoami)
        with hub_errors(endpoint, repo, token_checked=True):
            self._retrying(lambda: api.create_repo(repo, repo_type=REPO_TYPE, private=private, exist_ok=True))
            if revision:
                self._retrying(lambda: api.create_branch(repo, branch=revision, repo_type=REPO_TYPE, exist_ok=True))
            commit = self._commit(api, repo, branch, files)
        return PublishResult(url=self.repo_url(repo, revision), commit=commit, files=paths)

    def _commit(self, api: Any, repo: str, branch: str, files: list[LocalFile]) -> str | None:
        """One commit of what differs; None when the remote already matches."""
        head_before = self._retrying(lambda: api.repo_info(repo, repo_type=REPO_TYPE, revision=branch).sha)

        def attempt() -> str | None:
            changed, stale = plan_commit(files, remote_files(api, repo, branch))
            if not changed and not stale:
                head = api.repo_info(repo, repo_type=REPO_TYPE, revision=branch).sha
                return head if head != head_before else None  # an earlier attempt's commit did land
            info = api.create_commit(repo, commit_operations(changed, stale), repo_type=REPO_TYPE, revision=branch,
                                     commit_message=self.options.commit_message or f"Publish with factory {__version__}",
                                     commit_description=f"{len(changed)} file(s) added or updated, {len(stale)} removed.")
            return info.oid if info.oid != head_before else None

        return self._retrying(attempt)

    def _retrying(self, call: Callable[[], T]) -> T:
        """Run ``call``; on a retryable Hub failure wait (doubling) and try again, at most max_attempts times."""
        delay = self.options.backoff_initial_s
        for number in range(1, self.options.max_attempts + 1):
            try:
                with retryable_errors():
                    return call()
            except RetryableHubError as exc:
                if number == self.options.max_attempts:
                    raise StopRun(f"the Hub at {self.endpoint} kept failing after {number} attempts: {exc}") from None
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


# ---------------------------------------------------------------- helpers


def refuse_secrets(files: list[LocalFile]) -> None:
    """UserError naming the first file (and line) with a secret-looking value; the value is never shown."""
    findings = scan_paths([f.source for f in files])
    if findings:
        first = findings[0]
        more = f" (and {len(findings) - 1} more finding(s))" if len(findings) > 1 else ""
        raise UserError(f"{first.path}:{first.line}: looks like a secret ({first.kind}){more}; "
                        "refusing to publish: remove it and export again")


def remote_files(api: Any, repo: str, branch: str) -> dict[str, Any]:
    """Path -> RepoFile of every file on ``branch``."""
    from huggingface_hub.hf_api import RepoFile

    entries = api.list_repo_tree(repo, repo_type=REPO_TYPE, revision=branch, recursive=True)
    return {entry.path: entry for entry in entries if isinstance(entry, RepoFile)}


def commit_operations(changed: list[LocalFile], stale: list[str]) -> list[Any]:
    """Fresh operation objects (huggingface_hub mutates them, so never reuse across attempts)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    return ([CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(f.source)) for f in changed]
            + [CommitOperationDelete(path_in_repo=path) for path in stale])


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _server_message(exc: BaseException) -> str:
    message = getattr(exc, "server_message", None) or ""
    if not message:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return " ".join(message.split())


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's connection/timeout errors (httpx2 in huggingface_hub 2.x, httpx before)."""
    try:
        import httpx2 as http_lib
    except ImportError:  # pragma: no cover - older huggingface_hub
        import httpx as http_lib
    return (http_lib.TransportError, ConnectionError)


@contextlib.contextmanager
def retryable_errors() -> Iterator[None]:
    """Turn 5xx/429/timeouts/connection failures into :class:`RetryableHubError`."""
    from huggingface_hub.errors import HfHubHTTPError

    transport = _transport_errors()
    try:
        yield
    except HfHubHTTPError as exc:
        status = _status(exc)
        if status in _RETRY_STATUS:
            raise RetryableHubError(f"HTTP {status}: {_server_message(exc)}") from exc
        raise
    except transport as exc:
        raise RetryableHubError(f"{type(exc).__name__}: {exc}") from exc
    except RuntimeError as exc:  # LFS uploads wrap their failure in RuntimeError
        cause = exc.__cause__
        if isinstance(cause, HfHubHTTPError) and _status(cause) in _RETRY_STATUS:
            raise RetryableHubError(f"HTTP {_status(cause)}: {_server_message(cause)}") from exc
        if isinstance(cause, transport):
            raise RetryableHubError(f"{type(cause).__name__}: {cause}") from exc
        raise


@contextlib.contextmanager
def hub_errors(endpoint: str, repo: str, token_checked: bool = False) -> Iterator[None]:
    """Hub failures as one line: auth and permission problems are the user's (exit 2), others stop (exit 3).

    ``token_checked``: whoami already accepted the token, so a later 401 means
    the token may not touch this repo rather than that it is invalid.
    """
    from huggingface_hub.errors import HfHubHTTPError

    transport = _transport_errors()
    try:
        yield
    except HfHubHTTPError as exc:
        status = _status(exc)
        if status == 401 and token_checked:
            raise UserError(f"the token may not access {repo} at {endpoint} (401: {_server_message(exc)}); "
                            "check the repository name and the token's permissions") from None
        if status == 401:
            raise UserError(f"the Hub at {endpoint} rejected the token (401 Unauthorized): "
                            "set a valid HF_TOKEN or run `hf auth login`") from None
        if status == 403:
            raise UserError(f"no write access to {repo} at {endpoint} (403 Forbidden: {_server_message(exc)}); "
                            "use a token with write permission on that namespace") from None
        if status == 404:
            raise UserError(f"{repo} at {endpoint}: not found (404: {_server_message(exc)})") from None
        raise StopRun(f"the Hub at {endpoint} answered {status}: {_server_message(exc)}") from None
    except ValueError as exc:
        if "Invalid metadata in README.md" not in str(exc):
            raise
        raise UserError(f"README.md: the Hub rejected the card's metadata: {' '.join(str(exc).split())}") from None
    except transport as exc:
        raise StopRun(f"cannot reach the Hub at {endpoint}: {type(exc).__name__}: {exc}") from None
