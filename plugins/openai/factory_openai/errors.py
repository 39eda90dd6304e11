"""What an OpenAI-compatible server said when it refused: its own message, and when to come back.

Why: servers word errors differently. OpenAI sends ``{"error": {"message": ...}}``,
FastAPI-based servers ``{"detail": ...}`` (a string, or a list of validation
problems), Ollama ``{"error": "..."}``, others a bare ``{"message": ...}`` or
plain text. The ``openai`` client keeps the body but only words the first
kind into its exception text ("Error code: 400" otherwise), so the server's
reason would be lost from every error line. These helpers find it.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

_MESSAGE_KEYS = ("message", "detail", "error", "msg", "reason")


def server_message(body: Any) -> str:
    """The server's own words in an error body (any of the shapes above), or "" when it has none."""
    if isinstance(body, str):
        return body.strip()
    if isinstance(body, list):
        parts = [server_message(item) for item in body]
        return "; ".join(part for part in parts if part)
    if isinstance(body, dict):
        for key in _MESSAGE_KEYS:
            value = body.get(key)
            found = server_message(value) if value is not None else ""
            if found:
                location = body.get("loc")
                if key == "msg" and isinstance(location, (list, tuple)):  # a FastAPI validation problem
                    return f"{'.'.join(str(part) for part in location)}: {found}"
                return found
    return ""


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
