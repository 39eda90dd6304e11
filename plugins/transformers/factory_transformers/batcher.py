"""Gather concurrent requests into batches and run each batch in one worker thread.

The core's :class:`~factory.teaching.TeacherClient` awaits up to
``concurrency`` ``complete()`` calls at once. Decoding them one by one would
leave most of a CPU's or GPU's throughput unused, so each call queues its
item here: the first item of a batch waits at most ``max_wait_s`` for others
(up to ``batch_size``), then the batch runs in a single-thread executor
(torch never blocks the event loop, and batches never overlap). Items that
arrive while a batch runs form the next one. A caller that gives up (its
timeout) is skipped if its batch has not started; a running batch is told,
through ``should_stop()``, when every caller gave up or the batcher closed,
so a long CPU decode ends at its next step instead of holding up the exit
after Ctrl-C.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Queue:
    """Pending items of one event loop (a batcher may be driven by successive loops)."""

    loop: asyncio.AbstractEventLoop
    items: list[tuple[object, asyncio.Future]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task | None = None


class MicroBatcher(Generic[Item, Result]):
    """Runs ``run_batch(items, should_stop) -> results`` (same order) for batches of concurrently submitted items."""

    def __init__(self, run_batch: Callable[[Sequence[Item], Callable[[], bool]], Sequence[Result]],
                 batch_size: int, max_wait_s: float):
        self.run_batch = run_batch
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.batches_run = 0
        self.items_run = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="factory-transformers")
        self._queue: _Queue | None = None
        self._closed = False

    async def submit(self, item: Item) -> Result:
        if self._closed:
            raise RuntimeError("the batcher is closed")
        queue = self._queue_for_loop()
        future: asyncio.Future = queue.loop.create_future()
        queue.items.append((item, future))
        queue.arrived.set()
        if queue.runner is None or queue.runner.done():
            queue.runner = queue.loop.create_task(self._drain(queue))
        return await future

    def close(self) -> None:
        """Stop taking items; a running batch finishes in the background thread."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _queue_for_loop(self) -> _Queue:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue.loop is not loop:
            self._queue = _Queue(loop=loop)
        return self._queue

    async def _drain(self, queue: _Queue) -> None:
        while queue.items:
            await self._fill(queue)
            queue.items = [(item, future) for item, future in queue.items if not future.done()]
            live, queue.items = queue.items[: self.batch_size], queue.items[self.batch_size:]
            if not live:
                continue
            futures = [future for _, future in live]

            def should_stop(futures: list[asyncio.Future] = futures) -> bool:
                # read from the worker thread: a stale answer only delays the stop by one step
                return self._closed or all(future.done() for future in futures)

            try:
                results = await queue.loop.run_in_executor(
                    self._executor, self.run_batch, [item for item, _ in live], should_stop
                )
            except Exception as exc:  # the whole batch failed: every caller gets the error
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches_run += 1
            self.items_run += len(live)
            for (_, future), result in zip(live, results):
                if not future.done():
                    future.set_result(result)

    async def _fill(self, queue: _Queue) -> None:
        """Wait until a full batch is queued or ``max_wait_s`` has passed."""
        deadline = queue.loop.time() + self.max_wait_s
        while len(queue.items) < self.batch_size:
            remaining = deadline - queue.loop.time()
            if remaining <= 0:
                return
            queue.arrived.clear()
            try:
                await asyncio.wait_for(queue.arrived.wait(), remaining)
            except asyncio.TimeoutError:  # TimeoutError on 3.11+
                return
