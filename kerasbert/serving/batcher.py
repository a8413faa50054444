"""`DynamicBatcher`: texts from concurrent requests, run together in one model call.

Requests queue their texts; one worker takes whole requests, oldest first, until the batch holds
`max_batch_size` texts or `max_wait` has passed since the oldest arrived, and runs the batch in a
thread of its own, off the event loop; up to `workers` batches run at once. Each request gets
back exactly its own results, in its order. While the workers are busy the queue fills, so under
load the next batch leaves full at once: the wait only ever costs the first request of a quiet
moment. `max_batch_size=1` runs every request
alone (batching off). The queue holds at most `max_queue` texts: past that `submit` raises
`QueueFull` at once, rather than letting a backlog grow that callers would time out on.

Plain asyncio and a thread: no web framework, so it is tested on its own.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """The queue holds `max_queue` texts already: come back later (HTTP 503)."""


@dataclass
class _Request:
    items: Sequence[Any]
    future: asyncio.Future
    arrived: float


class DynamicBatcher:
    """Queue the items of concurrent requests and run them in batches on one worker thread.

    Args:
        run: the batch function, called in the worker thread with a list of items; returns one
            result per item, in order (e.g. a list, or an array with one row per item).
        max_batch_size: items per call at most; a single request larger than this runs alone.
        max_wait: seconds a batch waits for more items after its oldest arrived.
        max_queue: items waiting at most; `submit` raises `QueueFull` beyond it.
        workers: batches run at once, each in its own thread (the batch function must be
            thread-safe).
        on_batch: called on the event loop with each batch's size and its seconds (metrics).

    Example:
    >>> async def demo():
    ...     batcher = DynamicBatcher(lambda items: [len(i) for i in items], 8, 0.001, 64)
    ...     batcher.start()
    ...     result = await batcher.submit(["a", "bb"])
    ...     await batcher.stop()
    ...     return result
    >>> asyncio.run(demo())
    [1, 2]
    """

    def __init__(
        self,
        run: Callable[[list[Any]], Sequence[Any]],
        max_batch_size: int,
        max_wait: float,
        max_queue: int,
        on_batch: Callable[[int, float], None] | None = None,
        workers: int = 1,
    ) -> None:
        self._run = run
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.max_queue = max_queue
        self._on_batch = on_batch
        self._pending: collections.deque[_Request] = collections.deque()
        self.queued = 0  # items waiting, not yet taken into a batch
        self._arrived = asyncio.Event()
        self._stopping = False
        self._worker: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._free = asyncio.Semaphore(workers)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="kerasbert-batch")

    def start(self) -> None:
        """Start the worker task on the running event loop."""
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="batcher")

    async def submit(self, items: Sequence[Any]) -> Sequence[Any]:
        """Queue `items` and wait for their results, in order. Raises `QueueFull` when the queue
        cannot take them, `RuntimeError` once the batcher is stopping."""
        if self._stopping:
            raise RuntimeError("The server is shutting down.")
        if self.queued + len(items) > self.max_queue:
            raise QueueFull(f"{self.queued} texts are waiting already (limit {self.max_queue}).")
        loop = asyncio.get_running_loop()
        request = _Request(items, loop.create_future(), loop.time())
        self._pending.append(request)
        self.queued += len(items)
        self._arrived.set()
        return await request.future

    async def stop(self) -> None:
        """Finish every queued request, then stop the worker and its thread."""
        self._stopping = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker
        if self._running:
            await asyncio.wait(self._running)
        self._executor.shutdown(wait=True)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending or not self._stopping:
            if not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            # A batch is formed only once a worker is free: until then the queue keeps filling.
            await self._free.acquire()
            deadline = self._pending[0].arrived + self.max_wait
            while self.queued < self.max_batch_size and not self._stopping:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            batch = self._take()
            if not batch:
                self._free.release()
                continue
            task = loop.create_task(self._run_batch(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        self._free.release()

    def _take(self) -> list[_Request]:
        """Whole requests, oldest first, up to `max_batch_size` items (at least one request);
        requests whose caller gave up (timed out, disconnected) are dropped here."""
        batch: list[_Request] = []
        size = 0
        while self._pending:
            request = self._pending[0]
            if request.future.done():
                self._pending.popleft()
                self.queued -= len(request.items)
                continue
            if batch and size + len(request.items) > self.max_batch_size:
                break
            self._pending.popleft()
            self.queued -= len(request.items)
            batch.append(request)
            size += len(request.items)
        return batch

    async def _run_batch(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        items = [item for request in batch for item in request.items]
        started = loop.time()
        try:
            results = await loop.run_in_executor(self._executor, self._run, items)
        except Exception as error:  # the model failed: every caller of the batch is told
            logger.exception("Batch of %d items failed", len(items))
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        if self._on_batch is not None:
            self._on_batch(len(items), loop.time() - started)
        start = 0
        for request in batch:
            end = start + len(request.items)
            if not request.future.done():
                request.future.set_result(results[start:end])
            start = end
