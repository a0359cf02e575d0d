"""One lane per engine: the hub's queue in front of each model.

llama.cpp, piper and Whisper may be used by one thread at a time, and several
clients share them. Each engine gets an `EngineLane`, a worker thread with a
`FairQueue`: one job at a time, a final job (a transcript at release, a
reply, a sentence of speech) before any client's partial one (feeding audio
during speech), an opening job (a reply's first piece of speech) before the
other final ones, and clients taking turns within each class. The recognizer's
lane has `ASR_THREADS` threads, one client's jobs still one at a time: its
engines keep per-utterance state apart and serialize their model
themselves, and a Whisper ``finish`` only waits for its decode worker,
which must not stop the other clients' audio from reaching it.
Each client's queued partial jobs are bounded (``max_partials``); the
oldest is dropped first and its caller gets `LaneFull`. The event loop
never blocks on an engine; it awaits the lane. Different engines run in
parallel (one client's speech is recognised while another's reply is
generated).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from assistant.core.errors import AssistantError
from assistant.core.fairqueue import FairQueue

log = logging.getLogger(__name__)

T = TypeVar("T")

_DONE = object()

MAX_PARTIALS = 4
"""Partial jobs one client may have queued on a lane. A transcribe request
keeps at most one queued (`listening.Utterance`), so only a client with
several utterances in flight at once ever reaches it."""


ASR_THREADS = 4
"""Threads of the ``asr`` lane: utterances whose final text is being waited
for at once before the others' audio waits too."""


LLM_TURNS = 8
"""Threads of the ``llm`` lane for a model that takes turns (llama.cpp's
`Turnstile`): replies in progress at once, each stepping aside at a
sentence while others wait, a new reply first. With 1, the eighth of 8
satellites heard nothing until seven whole replies were done, and 3-4 of
16 turns were lost to the satellites' 30 s timeout
(`benchmarks/hub_satellites.py`). With 8, the load test's memory check
failed 2 runs of 5 until the context shelf's buffers left the heap
(`kvcache.mapped`); 22 runs since passed (benchmarks/README.md)."""


class LaneFull(AssistantError):
    """A client queued more partial work than its bound; its oldest was dropped."""

    stage = "busy"


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: concurrent.futures.Future
    client: Hashable
    kind: str
    """"opening", "final" or "partial", for the log."""
    queued_at: float


class EngineLane:
    """Worker threads named ``hub-<name>`` (one unless ``threads`` says
    more) and their fair queue. With more than one, different clients' jobs
    may run at once, but never two of one client's: for an engine whose
    per-client objects are independent and whose jobs may block waiting for
    another thread (a Whisper ``finish`` waits for its decode worker).

    `call` and `stream` are awaited on the event loop (`submit` is their
    non-blocking core); the functions they run block the lane's thread
    only. ``client`` keys the round-robin (the hub passes the connection's
    peer); jobs without one share the key None. `close` waits for the job in
    progress and cancels the queue; it is safe to call twice.
    """

    def __init__(self, name: str, *, max_partials: int = MAX_PARTIALS, threads: int = 1) -> None:
        self.name = name
        self.threads = threads
        self._queue: FairQueue[_Job] = FairQueue(max_partials, exclusive=True)
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Jobs queued or running on this lane (for logs and tests)."""
        return self._waiting

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        client: Hashable = None,
        partial: bool = False,
        opening: bool = False,
    ) -> concurrent.futures.Future[T]:
        """Queue ``fn(*args)`` for the lane's thread and return its future;
        never blocks. Its turn comes after the job in hand; a final job goes
        before every partial one, an ``opening`` one before the other final
        ones, and clients take turns within each class.
        The future fails with `LaneFull` if newer partial jobs of ``client``
        pushed this one out of its bound before it ran, with
        `AssistantError` if the lane is closed; cancelling it before it
        runs removes the job. Called on the event-loop thread (or any one
        thread: dropping a job and cancelling it must not race)."""
        kind = "partial" if partial else "opening" if opening else "final"
        job = _Job(fn, args, concurrent.futures.Future(), client, kind, time.monotonic())
        self._start()
        for dropped in self._queue.put(job, client, final=not partial, opening=opening):
            if dropped is job:  # the lane is closed
                job.future.set_exception(AssistantError(f"the hub's {self.name} lane is closed"))
            elif dropped.future.set_running_or_notify_cancel():  # False: cancelled meanwhile
                log.info("lane %s: dropped the oldest partial job of %s", self.name, client)
                bound = self._queue.max_partials
                dropped.future.set_exception(
                    LaneFull(
                        f"{client} had more than {bound} jobs queued on the hub's {self.name} "
                        "lane, so its oldest was dropped; send one request at a time"
                    )
                )
        return job.future

    async def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        client: Hashable = None,
        partial: bool = False,
        opening: bool = False,
    ) -> T:
        """Await ``fn(*args)`` run on the lane (see `submit`); cancelling the
        awaiting task before the job started removes it from the queue."""
        future = self.submit(fn, *args, client=client, partial=partial, opening=opening)
        self._waiting += 1
        try:
            return await asyncio.wrap_future(future)
        finally:
            self._waiting -= 1

    async def stream(
        self,
        work: Callable[[Callable[[Any], None], threading.Event], T],
        consume: Callable[[Any], Awaitable[None]],
        *,
        client: Hashable = None,
        opening: bool = False,
    ) -> T:
        """Run ``work(emit, cancel)`` on the lane (a final job, ``opening``
        if so; see `submit`) and await
        ``consume(item)`` on the loop for each item it passes to ``emit``, as
        soon as it is made; return what ``work`` returned.

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

        job = asyncio.ensure_future(self.call(run, client=client, opening=opening))
        try:
            while (item := await items.get()) is not _DONE:
                await consume(item)
        except BaseException:
            cancel.set()
            await asyncio.gather(job, return_exceptions=True)
            raise
        return await job

    def _start(self) -> None:
        with self._lock:
            if self._workers or self._closed:
                return
            for i in range(self.threads):
                name = f"hub-{self.name}" + (f"-{i}" if self.threads > 1 else "")
                worker = threading.Thread(target=self._run, name=name, daemon=True)
                worker.start()
                self._workers.append(worker)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                # False when the awaiting task was cancelled (the client went away).
                if job.future.set_running_or_notify_cancel():
                    started = time.monotonic()
                    try:
                        result = job.fn(*job.args)
                    except BaseException as exc:
                        job.future.set_exception(exc)
                    else:
                        job.future.set_result(result)
                    log.debug(
                        "lane %s: %s job of %s waited %.0f ms, ran %.0f ms",
                        self.name,
                        job.kind,
                        job.client,
                        (started - job.queued_at) * 1000,
                        (time.monotonic() - started) * 1000,
                    )
            finally:
                self._queue.done(job.client)

    def close(self) -> None:
        """Finish the job in progress, cancel the queued ones; idempotent."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
        for job in self._queue.close():
            if job.future.cancel():
                job.future.set_running_or_notify_cancel()  # wakes `wait()` on it too
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join()
