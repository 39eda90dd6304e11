"""One shared Kiwi morphological analyzer per process, loaded on first use, and its recent analyses.

Loading Kiwi's model takes about two seconds and 500 MB of memory, so the
plugin never does it at import time (``factory plugins`` and the CLI's
startup stay fast) and never twice in one process. Batches go through
Kiwi's own multithreaded path (``tokenize`` on an iterable), which keeps
every core busy while returning results in input order.

Analysis is what costs (about 0.8 ms per instruction, 15 µs a character,
on one core), and the same texts are asked about more than once: the report
wants each instruction's similarity tokens and then its verb and object, the
filters check a candidate's blacklist, program task and tokens. So the last
:data:`CACHE_SIZE` distinct texts analysed keep their analysis, and none of
them is analysed again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from kiwipiepy import Kiwi, Token

_LOCK = threading.Lock()
_KIWI: "Kiwi | None" = None
#: -1 lets Kiwi start one worker thread per available core for batch calls.
NUM_WORKERS = -1
#: Distinct texts whose analysis is kept, oldest dropped first: a 52K-record report's instructions
#: and seeds fit. About 5 KB each (30 morphemes), so about 300 MB when full.
CACHE_SIZE = 65_536
_CACHE: "OrderedDict[str, list[Token]]" = OrderedDict()


def kiwi_threads() -> int:
    """Kiwi's ``num_workers``: every core in a process of its own, one thread in an executor's worker process
    (:func:`factory.executors.analysis_threads`), whose peers hold the other cores. (Kiwi's 0, no thread at
    all, cannot analyse a batch: its batch path always hands texts to worker threads.)"""
    from factory.executors import analysis_threads

    threads = analysis_threads()
    return NUM_WORKERS if threads is None else threads


def get_kiwi() -> "Kiwi":
    """The process-wide Kiwi instance (created, thread-safely, on the first call)."""
    global _KIWI
    if _KIWI is None:
        with _LOCK:
            if _KIWI is None:
                from kiwipiepy import Kiwi

                _KIWI = Kiwi(num_workers=kiwi_threads())
    return _KIWI


def analyze(texts: Iterable[str]) -> "list[list[Token]]":
    """Kiwi morphemes of each text, in input order: kept ones reused, the rest in one batch call.

    ``compatible_jamo`` turns ending jamo such as ``ᆯ`` into the everyday
    ``ㄹ`` so tokens read naturally in reports and rejection files. The lists
    returned are shared with later callers: read them, never change them.
    """
    texts = list(texts)
    with _LOCK:
        found = {text: _CACHE[text] for text in texts if text in _CACHE}
    missing = [text for text in dict.fromkeys(texts) if text not in found]
    if missing:
        found.update(zip(missing, get_kiwi().tokenize(missing, compatible_jamo=True)))
        with _LOCK:
            for text in missing:
                _CACHE[text] = found[text]
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return [found[text] for text in texts]
