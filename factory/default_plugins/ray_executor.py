"""The ``ray`` executor: analysis and the near-duplicate pool on a Ray cluster (the ``ray`` extra).

``import ray`` happens only in this module, and only when the executor starts,
so the core imports no Ray at start-up and works without the extra.

What runs where:

* the driver (``factory run`` / ``factory dedup``): the plan, the teacher's
  asyncio I/O, every keep decision and every write to the run folder;
* ``workers`` :class:`RougeShard` actors: each holds a slice of the kept pool
  (round robin by the order entries were kept) and answers a block of queries
  at a time with its best (score, sequence number) per query;
* ``workers`` analyser actors: one language analyser (Kiwi, Sudachi) each,
  built once, tokenizing ordered slices of the texts.

``address`` joins an existing cluster (``ray start --head`` prints it; the
``RAY_ADDRESS`` environment variable is used when the option is unset); without
either a local cluster of ``num_cpus`` CPUs is started for the command and
stopped at the end. A Ray session already initialised in this process (a test's,
a notebook's) is used as it is and left running.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Sequence

from factory.contracts import Options, Requirement, runtime
from factory.executors import Analyses, Executor, enter_worker, run_methods
from factory.hookspecs import hookimpl
from factory.rouge_pool import RougeShard, ShardedRougePool


class RayOptions(Options):
    address: str | None = runtime(None, description="Address of an existing cluster (ray://HOST:10001 or "
                                     "HOST:6379); default: the RAY_ADDRESS environment variable, else a local "
                                     "cluster for this command.")
    num_cpus: int | None = runtime(None, ge=1, description="CPUs of the local cluster started when no address is "
                                   "given; default: this machine's.")
    workers: int | None = runtime(None, ge=1, description="Pool shards and analyser actors; default: the "
                                  "cluster's CPU count.")
    block: int = runtime(256, ge=1, description="Queries broadcast to the shards at once (a speed knob only: "
                                "decisions are the same for any value).")


class _ShardActors:
    """The :class:`factory.rouge_pool.ShardBackend` of Ray actors (one RougeShard each)."""

    def __init__(self, ray: Any, count: int) -> None:
        self.ray = ray
        # no CPU reservation (a shard waits for the driver between blocks, and must not starve the analysers
        # of CPU slots), spread over the cluster's nodes so the pool's memory and work are split too
        remote_shard = ray.remote(num_cpus=0, scheduling_strategy="SPREAD")(RougeShard)
        self.actors = [remote_shard.remote() for _ in range(count)]
        self.shard_count = count

    def best_many(self, token_lists: list[list[str]]) -> list[list[Any]]:
        block = self.ray.put(token_lists)  # one copy in the object store, read by every shard
        return self.ray.get([actor.best_many.remote(block) for actor in self.actors])

    def add(self, shard: int, items: list[tuple[list[str], int]]) -> None:
        # Calls from one caller to one actor run in submission order, so the add lands before the next query.
        self.actors[shard].add_many.remote(items)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []


def _call_in_worker(function: Any, *args: Any) -> Any:
    enter_worker()
    return function(*args)


class _Analyser:
    """One language analyser, built once in its actor."""

    def __init__(self, language_cls: type, options: Any) -> None:
        enter_worker()
        self.language = language_cls(options)

    def analyze_many(self, texts: Sequence[str], methods: tuple[str, ...]) -> Analyses:
        return run_methods(self.language, texts, methods)


class RayExecutor(Executor):
    """A Ray cluster (an existing one at ``address``, or a local one): sharded pool and parallel analysis."""

    options_model: ClassVar[type[Options]] = RayOptions
    plugin_name = "ray"

    @classmethod
    def requirements_for(cls, options: Any) -> list[Requirement]:
        return [Requirement(module="ray", install="pip install 'koalpaca-factory[ray]'", why="the ray executor")]

    def setup(self) -> None:
        self._ray: Any = None
        self._started_here = False
        self._analysers: tuple[Any, list[Any]] | None = None
        self._pools: list[ShardedRougePool] = []

    # -- the cluster ------------------------------------------------------------
    def _start(self) -> Any:
        if self._ray is not None:
            return self._ray
        try:
            import ray
        except ImportError:
            from factory.errors import UserError

            raise UserError("the ray executor needs Ray: pip install 'koalpaca-factory[ray]'") from None
        if not ray.is_initialized():
            address = self.options.address or os.environ.get("RAY_ADDRESS") or None
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = self.options.num_cpus or os.cpu_count() or 1
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                from factory.errors import UserError

                raise UserError(f"executor ray: cannot reach a cluster at {address or 'a new local cluster'}: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            self._started_here = True
        self._ray = ray
        return ray

    def start(self) -> None:
        self._start()

    @property
    def workers(self) -> int:
        if self.options.workers:
            return self.options.workers
        ray = self._start()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    # -- the contract -------------------------------------------------------------
    def rouge_pool(self) -> ShardedRougePool:
        ray = self._start()
        pool = ShardedRougePool(_ShardActors(ray, self.workers), block=self.options.block)
        self._pools.append(pool)
        return pool

    def parallelism(self) -> int:
        return self.workers

    def map_slices(self, language: Any, slices: Sequence[Sequence[str]], methods: tuple[str, ...]) -> list[Analyses]:
        ray = self._start()
        key = (type(language), language.options)
        if self._analysers is None or self._analysers[0] != key:
            remote = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_Analyser)
            self._analysers = (key, [remote.remote(*key) for _ in range(self.workers)])
        actors = self._analysers[1]
        refs = [actors[i % len(actors)].analyze_many.remote(part, methods) for i, part in enumerate(slices)]
        return ray.get(refs)  # in submission order, whichever finished first

    def map_calls(self, function: Any, calls: Sequence[tuple]) -> list[Any]:
        if len(calls) <= 1:
            return super().map_calls(function, calls)
        ray = self._start()
        remote = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_call_in_worker)
        return ray.get([remote.remote(function, *args) for args in calls])

    def describe(self) -> dict[str, Any]:
        """Never starts a cluster: what was used, if anything was."""
        info: dict[str, Any] = {"plugin": "ray", "workers": self.options.workers}
        if self._ray is not None:
            info["workers"] = self.workers
            info["cluster_cpus"] = int(self._ray.cluster_resources().get("CPU", 0))
        return info

    def close(self) -> None:
        for pool in self._pools:
            pool.close()
        self._pools = []
        if self._analysers is not None and self._ray is not None:
            for actor in self._analysers[1]:
                self._ray.kill(actor)
        self._analysers = None
        if self._started_here and self._ray is not None:
            self._ray.shutdown()
        self._ray = None
        self._started_here = False


@hookimpl
def register_executors(register):
    register("ray", RayExecutor)
