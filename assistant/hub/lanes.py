"""One lane per engine: the hub's queue in front of each model.

llama.cpp, piper and Whisper may be used by one thread at a time, and several
clients share them. Each engine gets an `EngineLane`, a single worker thread
with a FIFO queue: work from every connection runs there in the order it was
asked for, one job at a time. The event loop never blocks on an engine; it
awaits the lane. Different engines run in parallel (one client's speech is
recognised while another's reply is generated).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_DONE = object()


class EngineLane:
    """A single worker thread named ``hub-<name>`` and its queue.

    `call` and `stream` are awaited on the event loop; the functions they run
    block the lane's thread only. `close` waits for the job in progress and
    drops the queue; it is safe to call twice.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hub-{name}")
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Jobs queued or running on this lane (for logs and tests)."""
        return self._waiting

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the lane's thread, after the jobs queued before it."""
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._waiting -= 1

    async def stream(
        self,
        work: Callable[[Callable[[Any], None], threading.Event], T],
        consume: Callable[[Any], Awaitable[None]],
    ) -> T:
        """Run ``work(emit, cancel)`` on the lane and await ``consume(item)``
        on the loop for each item it passes to ``emit``, as soon as it is
        made; return what ``work`` returned.

        If ``consume`` raises (the client went away), ``cancel`` is set so
        the engine stops at its next check, the lane job is awaited, and the
        exception propagates. An exception in ``work`` propagates after the
        items emitted before it were consumed.
        """
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: Any) -> None:
            loop.call_soon_threadsafe(items.put_nowait, item)

        def run() -> Any:
            try:
                return work(emit, cancel)
            finally:
                emit(_DONE)

        job = asyncio.ensure_future(self.call(run))
        try:
            while (item := await items.get()) is not _DONE:
                await consume(item)
        except BaseException:
            cancel.set()
            await asyncio.gather(job, return_exceptions=True)
            raise
        return await job

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
