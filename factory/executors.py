"""The executor plugin kind: where CPU-bound work runs (this process, worker processes, a Ray cluster).

A run or ``factory dedup`` asks its executor for two things only:

* :meth:`Executor.analyze_many`: a language's batch methods on many texts
  (Kiwi, Sudachi), the CPU-bound part of filtering, dedup and the report;
  results come back in input order, whatever finishes first. Several methods
  asked at once run on each slice in the same worker, whose analyser keeps its
  analyses, so the report's tokens and verb/object pairs cost one analysis of
  each text, not one per question (:meth:`Executor.tokenize_many` is the
  one-method case);
* :meth:`Executor.rouge_pool`: the greedy ROUGE-L pool of the near-duplicate
  filter and ``factory dedup`` (one index here, or shards across a cluster,
  with decisions identical either way: :mod:`factory.rouge_pool`).

Teacher I/O stays on the driver's asyncio loop (it is waiting, not computing),
and the driver alone writes the run folder (journal, state, ledger, manifest):
workers return values, never touch files, so resume semantics do not depend on
the executor. The executor is not part of a run's identity: a run started
locally may be resumed on a cluster and gives the same bytes.

Selected by ``--executor NAME`` (``factory run``, ``factory dedup``) or the
recipe's ``executor:`` section; ``local`` is the default.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, ClassVar, Sequence, TypeVar

from factory.contracts import Options, Plugin, runtime
from factory.errors import UserError

__all__ = ["ANALYSIS_THREADS_ENV", "DEFAULT_EXECUTOR", "Executor", "LocalExecutor", "LocalOptions", "analysis_threads",
           "build_executor", "chunks", "enter_worker", "executor_for", "run_methods"]

T = TypeVar("T")
DEFAULT_EXECUTOR = "local"
#: Set in every executor worker: the threads one analyser there may start (its peers hold the other cores).
ANALYSIS_THREADS_ENV = "FACTORY_ANALYSIS_THREADS"
#: below this many texts, analysis stays in the calling process (starting workers costs more)
PARALLEL_MIN_TEXTS = 2000


def chunks(items: Sequence[Any], parts: int, minimum: int = 256) -> list[Sequence[Any]]:
    """``items`` cut into about ``parts * 4`` ordered slices of at least ``minimum`` (load balance)."""
    size = max(minimum, -(-len(items) // max(1, parts * 4)))
    return [items[i:i + size] for i in range(0, len(items), size)]


#: What :meth:`Executor.analyze_many` returns: each method's results in input order, or None for a method the
#: language does not implement (it raised NotImplementedError).
Analyses = dict[str, "list[Any] | None"]


def run_methods(language: Any, texts: Sequence[str], methods: Sequence[str]) -> Analyses:
    """``{name: language.<name>(texts)}`` for each batch method, in this process (a worker's whole job)."""
    out: Analyses = {}
    for name in methods:
        try:
            result = list(getattr(language, name)(texts))
        except NotImplementedError:
            result = None
        if result is not None and len(result) != len(texts):
            raise ValueError(f"language '{getattr(language, 'code', '?')}'.{name} returned {len(result)} results "
                             f"for {len(texts)} texts")
        out[name] = result
    return out


def _joined(parts: Sequence[Analyses], methods: Sequence[str]) -> Analyses:
    """Slices' results put back together in slice order (a method missing in one slice is missing in all)."""
    out: Analyses = {}
    for name in methods:
        if any(part[name] is None for part in parts):
            out[name] = None
        else:
            out[name] = [item for part in parts for item in part[name]]
    return out


def enter_worker() -> None:
    """Called first in every worker process or actor an executor starts: one thread per analyser.

    A worker is one of ``workers`` processes sharing the machine's cores, so an analyser that starts a thread
    per core there (Kiwi's default) runs ``workers`` times too many threads: 2 Korean workers with a thread per
    core each took 32 s and 63 s of CPU for 52K instructions, 30 s and 57 s with one (docs/scale.md).
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ[ANALYSIS_THREADS_ENV] = "1"


def analysis_threads() -> int | None:
    """Threads a language's analyser may start: 1 in an executor's worker, None elsewhere (the library's
    default, usually every core). Language plugins that multithread ask this before building their analyser."""
    value = os.environ.get(ANALYSIS_THREADS_ENV, "").strip()
    return max(1, int(value)) if value.isdigit() else None


class Executor(Plugin):
    """Base class of executor plugins; built as ``cls(options)`` from the ``executor`` section.

    A plugin that spreads analysis overrides :meth:`parallelism` and :meth:`map_slices`; slicing, the
    small-input shortcut and putting results back in order stay here, the same for every executor.
    """

    kind: ClassVar[str] = "executor"

    def analyze_many(self, language: Any, texts: Sequence[str],
                     methods: Sequence[str] = ("tokenize_many",)) -> Analyses:
        """``language.<method>(texts)`` for each of ``methods``, possibly spread over workers; the results
        are exactly the in-process ones, in the same order."""
        texts, methods = list(texts), tuple(methods)
        workers = self.parallelism() if len(texts) >= PARALLEL_MIN_TEXTS else 1
        if workers <= 1:
            return run_methods(language, texts, methods)
        return _joined(self.map_slices(language, chunks(texts, workers), methods), methods)

    def tokenize_many(self, language: Any, texts: Sequence[str]) -> list[list[str]]:
        """``language.tokenize_many(texts)``, possibly spread over workers; same result, same order."""
        return self.analyze_many(language, texts, ("tokenize_many",))["tokenize_many"]

    def parallelism(self) -> int:
        """Workers analysis is spread over (1: this process)."""
        return 1

    def map_slices(self, language: Any, slices: Sequence[Sequence[str]], methods: tuple[str, ...]) -> list[Analyses]:
        """:func:`run_methods` of every slice, one result per slice in slice order (workers may finish in any)."""
        return [run_methods(language, part, methods) for part in slices]

    def map_calls(self, function: Callable[..., T], calls: Sequence[tuple]) -> list[T]:
        """``[function(*args) for args in calls]``, possibly spread over workers; results in call order.

        ``function`` is a module-level function (workers import it by name) that computes from its arguments
        alone: no files, no language analyser, no driver state.
        """
        return [function(*args) for args in calls]

    def rouge_pool(self) -> Any:
        """A new, empty greedy ROUGE-L pool (:class:`factory.rouge_pool.RougePool`)."""
        from factory.rouge_pool import LocalRougePool

        return LocalRougePool()

    def start(self) -> None:
        """Start workers now. The engine calls it on the main thread before any stage: stages call the
        executor from worker threads, and a cluster whose processes die with the thread that started
        them (Linux's parent-death signal is per thread) must not be started there."""

    def describe(self) -> dict[str, Any]:
        """What stats.json records about where the run ran (never part of the run's identity)."""
        return {"plugin": getattr(self, "plugin_name", type(self).__name__)}

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LocalOptions(Options):
    workers: int = runtime(1, ge=1, description="Worker processes for CPU-bound analysis (tokenization, the "
                           "report's similarity scan), one single-threaded analyser each; 1 (the default) keeps it in "
                           "this process. Measured per worker count in docs/scale.md.")


# -- the worker side of the local process pool: one analyser per worker --------------
_WORKER_LANGUAGE: Any = None


def _init_worker(language_cls: type | None, options: Any) -> None:
    global _WORKER_LANGUAGE
    enter_worker()
    _WORKER_LANGUAGE = language_cls(options) if language_cls is not None else None


def _analyze_in_worker(texts: Sequence[str], methods: tuple[str, ...]) -> Analyses:
    return run_methods(_WORKER_LANGUAGE, texts, methods)


class LocalExecutor(Executor):
    """This machine: teacher I/O on asyncio, analysis in a pool of worker processes (``--workers``)."""

    options_model: ClassVar[type[Options]] = LocalOptions
    plugin_name = "local"

    def setup(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._pool_language: tuple[type, Any] | None = None

    @property
    def workers(self) -> int:
        return self.options.workers

    def _pool_for(self, language: Any) -> ProcessPoolExecutor:
        """The pool whose workers hold ``language``'s analyser (None: any pool, for :meth:`map_calls`)."""
        if language is None and self._pool is not None:
            return self._pool
        key = (type(language), language.options) if language is not None else (None, None)
        if self._pool is None or self._pool_language != key:
            self.close()
            # spawn: fresh workers, each building its own analyser; a forked one would inherit the driver's
            # threads and locks (asyncio, HTTP clients) and its analyser's caches
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=key)
            self._pool_language = key
        return self._pool

    def parallelism(self) -> int:
        return self.workers

    def map_slices(self, language: Any, slices: Sequence[Sequence[str]], methods: tuple[str, ...]) -> list[Analyses]:
        pool = self._pool_for(language)
        return list(pool.map(_analyze_in_worker, slices, [methods] * len(slices)))

    def map_calls(self, function: Callable[..., T], calls: Sequence[tuple]) -> list[T]:
        if self.workers <= 1 or len(calls) <= 1:
            return super().map_calls(function, calls)
        pool = self._pool_for(None)
        return [future.result() for future in [pool.submit(function, *args) for args in calls]]

    def describe(self) -> dict[str, Any]:
        return {"plugin": "local", "workers": self.workers}

    def close(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def build_executor(name: str | None = None, options: dict[str, Any] | Any = None, *,
                   workers: int | None = None) -> Executor:
    """The named executor plugin (default ``local``) built with ``options``; a clear error for an unknown name."""
    from factory.errors import PluginError
    from factory.plugins import get_registry

    registry = get_registry()
    name = name or DEFAULT_EXECUTOR
    try:
        cls = registry.get("executor", name).obj
    except PluginError as exc:
        raise UserError(f"--executor: {exc}") from None
    if options is not None and not isinstance(options, dict):
        return cls(options)
    values = dict(options or {})
    if workers is not None:
        values["workers"] = workers
    return cls(values)


def executor_for(loaded: Any, name: str | None = None, workers: int | None = None) -> Executor:
    """The executor for a run: ``--executor`` (``name``) over the recipe's ``executor:`` section over ``local``.

    The section's options apply when it names the same plugin; ``--workers`` overrides ``workers``.
    """
    section = loaded.plugins.get("executor") if loaded is not None else None
    if name is None and section is not None:
        name = section.name
    options: dict[str, Any] = {}
    if section is not None and section.name == (name or DEFAULT_EXECUTOR):
        options = section.options.model_dump(exclude_unset=True)
    return build_executor(name, options, workers=workers)

