"""One shared Kiwi morphological analyzer per process, loaded on first use.

Loading Kiwi's model takes about two seconds and 500 MB of memory, so the
plugin never does it at import time (``factory plugins`` and the CLI's
startup stay fast) and never twice in one process. Batches go through
Kiwi's own multithreaded path (``tokenize`` on an iterable), which keeps
every core busy while returning results in input order.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from kiwipiepy import Kiwi, Token

_LOCK = threading.Lock()
_KIWI: "Kiwi | None" = None
#: -1 lets Kiwi start one worker thread per available core for batch calls.
NUM_WORKERS = -1


def get_kiwi() -> "Kiwi":
    """The process-wide Kiwi instance (created, thread-safely, on the first call)."""
    global _KIWI
    if _KIWI is None:
        with _LOCK:
            if _KIWI is None:
                from kiwipiepy import Kiwi

                _KIWI = Kiwi(num_workers=NUM_WORKERS)
    return _KIWI


def analyze(texts: Iterable[str]) -> "list[list[Token]]":
    """Kiwi morphemes of each text, in input order, using Kiwi's batch API.

    ``compatible_jamo`` turns ending jamo such as ``ᆯ`` into the everyday
    ``ㄹ`` so tokens read naturally in reports and rejection files.
    """
    texts = list(texts)
    if not texts:
        return []
    return list(get_kiwi().tokenize(texts, compatible_jamo=True))
