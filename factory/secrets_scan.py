"""Find and remove secret-looking values before anything leaves the machine.

Two jobs share one notion of "secret":

- :func:`scan_paths` / :func:`scan_file` report ``(file, line, kind)`` for
  every secret-looking value in files about to be published. The value itself
  is never returned, printed or logged.
- :func:`scrub` removes secrets from the structures we write ourselves
  (recipe, stats): keys whose *name* says secret are dropped, and string
  values that look like a secret are replaced by :data:`REDACTED`.

What counts as a secret:

- known key shapes: OpenAI ``sk-...``, Hugging Face ``hf_...``, DeepL free
  keys ``<uuid>:fx``;
- a long token assigned to a secret-named field (``api_key: ...``,
  ``"token": "..."``, ``PASSWORD=...``);
- the value of any current environment variable whose name contains KEY,
  TOKEN, SECRET or PASSWORD and whose value is at least 8 characters long
  (names ending in ``_PATH``, ``_FILE``, ``_DIR`` or ``_ENV`` are skipped:
  they point at secrets, they are not secrets).

Parquet files are decoded (pyarrow, imported lazily) and scanned row by row,
because compression hides literal strings; ``line`` is then the row number.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple

REDACTED = "[REDACTED]"

#: words in a field or variable name that mark its value as a secret
SECRET_NAME_WORDS = frozenset({"key", "apikey", "token", "secret", "password", "passwd", "pwd", "credential",
                               "credentials"})
#: trailing words that make a secret-looking name harmless (it names where the secret is)
_HARMLESS_LAST_WORDS = frozenset({"env", "path", "file", "dir", "name", "names", "id"})
_ENV_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
ENV_MIN_LENGTH = 8

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("openai-key", re.compile(r"(?<![A-Za-z0-9])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("hf-token", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}")),
    ("deepl-key", re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:fx\b")),
)
_ASSIGNMENT = re.compile(
    r"""(?P<name>[A-Za-z][A-Za-z0-9_.-]*)["']?\s*[:=]\s*(?:Bearer\s+)?["']?(?P<value>[A-Za-z0-9_\-+/=.:]{16,})"""
)
_ENV_NAME_SHAPE = re.compile(r"[A-Z][A-Z0-9_]*")


class SecretFinding(NamedTuple):
    """Where a secret-looking value is; never the value itself."""

    path: Path
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: looks like a secret ({self.kind})"


def name_words(name: str) -> list[str]:
    """Split ``apiKey``, ``OPENAI_API_KEY`` or ``x-api-key`` into lowercase words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_name(name: str) -> bool:
    """True for field names such as ``api_key``, ``hf_token``, ``clientSecret``, ``PASSWORD``.

    Word-based on purpose: ``prompt_tokens``, ``max_tokens`` and ``tokenizer``
    are counts and settings, not secrets; ``api_key_env`` names a variable.
    """
    words = name_words(name)
    if not words or words[-1] in _HARMLESS_LAST_WORDS:
        return False
    return any(word in SECRET_NAME_WORDS for word in words)


def secret_env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Current environment variables that hold secrets: name -> value (keep it in memory only)."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if not any(part in upper for part in _ENV_NAME_PARTS):
            continue
        if upper.endswith(("_PATH", "_FILE", "_DIR", "_ENV")):
            continue
        if len(value.strip()) >= ENV_MIN_LENGTH:
            found[name] = value.strip()
    return found


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be the *name* of an environment variable (an ``*_env`` option), or None.

    A key pasted where its variable's name belongs would be printed in errors and kept in the run
    folder; the reason returned never contains the value.
    """
    if _line_kinds(value, secret_env_values()) or (not _ENV_NAME_SHAPE.fullmatch(value) and _looks_like_token(value)
                                                   and len(value) >= 16):
        return ("this looks like a secret itself, not the name of an environment variable (its value is not "
                "shown): put the key in an environment variable, e.g. export OPENAI_API_KEY=..., and give that "
                "variable's name here")
    if not _VARIABLE_NAME.fullmatch(value):
        return "not the name of an environment variable (letters, digits and _, not starting with a digit)"
    return None


def _looks_like_token(value: str) -> bool:
    if _ENV_NAME_SHAPE.fullmatch(value):  # OPENAI_API_KEY: the name of a variable
        return False
    if value.startswith(("http://", "https://", "/", "./", "../")):
        return False
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def scan_text(text: str, env_secrets: Mapping[str, str] | None = None) -> list[tuple[int, str]]:
    """``(line number, kind)`` for each secret-looking value in ``text`` (1-based lines)."""
    env_secrets = secret_env_values() if env_secrets is None else env_secrets
    hits: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        hits.extend((lineno, kind) for kind in _line_kinds(line, env_secrets))
    return hits


def _line_kinds(line: str, env_secrets: Mapping[str, str]) -> list[str]:
    kinds: list[str] = []
    for kind, pattern in _PATTERNS:
        if pattern.search(line):
            kinds.append(kind)
    for match in _ASSIGNMENT.finditer(line):
        if is_secret_name(match["name"]) and _looks_like_token(match["value"]):
            kinds.append("secret-assignment")
            break
    for name, value in env_secrets.items():
        if value in line:
            kinds.append(f"value of ${name}")
    return kinds


def scan_file(path: str | Path, env_secrets: Mapping[str, str] | None = None) -> list[SecretFinding]:
    """Scan one file; parquet files are scanned row by row (``line`` = row number)."""
    path = Path(path)
    env_secrets = secret_env_values() if env_secrets is None else env_secrets
    if path.suffix == ".parquet":
        lines = _parquet_rows_as_text(path)
    else:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    findings = []
    for lineno, line in enumerate(lines, start=1):
        findings.extend(SecretFinding(path, lineno, kind) for kind in _line_kinds(line, env_secrets))
    return findings


def _parquet_rows_as_text(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return [json.dumps(row, ensure_ascii=False, default=str) for row in table.to_pylist()]


def iter_files(root: str | Path) -> list[Path]:
    """Every regular file under ``root`` (or ``root`` itself), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file())


def scan_paths(paths: Iterable[str | Path], env_secrets: Mapping[str, str] | None = None) -> list[SecretFinding]:
    """Scan files and folders (recursively); findings in path order."""
    env_secrets = secret_env_values() if env_secrets is None else env_secrets
    findings: list[SecretFinding] = []
    for root in paths:
        for path in iter_files(root):
            findings.extend(scan_file(path, env_secrets))
    return findings


def redact(text: str, env_secrets: Mapping[str, str] | None = None) -> str:
    """Replace every secret-looking value in ``text`` with :data:`REDACTED`."""
    env_secrets = secret_env_values() if env_secrets is None else env_secrets
    for value in sorted(env_secrets.values(), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for _, pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)

    def _assignment(match: re.Match[str]) -> str:
        if is_secret_name(match["name"]) and _looks_like_token(match["value"]):
            start, end = match.span("value")
            whole_start = match.start()
            return match.group(0)[: start - whole_start] + REDACTED + match.group(0)[end - whole_start:]
        return match.group(0)

    return _ASSIGNMENT.sub(_assignment, text)


def scrub(value: Any, env_secrets: Mapping[str, str] | None = None) -> Any:
    """A copy of ``value`` (dicts, lists, scalars) with secret-named keys dropped and secret values redacted."""
    env_secrets = secret_env_values() if env_secrets is None else env_secrets
    if isinstance(value, Mapping):
        return {k: scrub(v, env_secrets) for k, v in value.items() if not is_secret_name(str(k))}
    if isinstance(value, (list, tuple)):
        return [scrub(v, env_secrets) for v in value]
    if isinstance(value, str):
        return redact(value, env_secrets)
    return value
