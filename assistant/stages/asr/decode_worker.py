"""The thread every Whisper decode of an engine runs on, shared fairly.

`StreamingTranscriber` decodes its utterance again and again while it
grows; the hub runs several utterances at once on one engine. Their
decodes all go to the engine's one `DecodeWorker` (the model may be used by
one thread at a time), which orders them with a `FairQueue`: someone's
final decode before anybody's partial one, and utterances in turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import TypeVar

from assistant.core.fairqueue import FairQueue

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Job:
    run: Callable[[], None]
    dropped: Callable[[], None] | None = None
    """Called instead of ``run`` when the job is dropped or the worker closes."""


class DecodeWorker:
    """One daemon thread that runs the decodes of every transcriber of an
    engine, one at a time, in a `FairQueue`: a final decode (`run_final`,
    someone waits for it) before any partial one (`submit`), and
    transcribers taking turns within each class, so one client's partials
    never sit in front of another's final. Each client (a transcriber) has
    at most ``max_partials`` partial jobs queued; the oldest is dropped
    first and told so.

    `submit` never blocks; `run_final` blocks its caller until its job ran.
    The thread starts with the first job and waits on its queue, so `close`
    (idempotent, from any thread) stops it at once after the job in hand.
    """

    def __init__(
        self,
        name: str = "whisper-decode",
        *,
        max_partials: int = 1,
        jobs: FairQueue[_Job] | None = None,
    ) -> None:
        self.name = name
        self._jobs: FairQueue[_Job] = FairQueue(max_partials) if jobs is None else jobs
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(
        self,
        job: Callable[[], None],
        client: Hashable = None,
        *,
        final: bool = False,
        dropped: Callable[[], None] | None = None,
    ) -> None:
        """Run ``job`` on the worker thread as a partial decode of
        ``client`` (or a final one, never dropped for the bound); if it is
        dropped (the client's bound, or `close`), ``dropped`` is called
        instead, on the submitting or closing thread. Nobody waits for it."""
        for lost in self._put(_Job(job, dropped), client, final=final):
            if lost.dropped is not None:
                lost.dropped()

    def submit_final(self, fn: Callable[[], T], client: Hashable = None) -> Future[T]:
        """Queue ``fn()`` as a final decode of ``client``: it runs as soon as
        the job in hand is done, after other clients' finals queued before
        it. The future is cancelled if the worker closes first."""
        future: Future[T] = Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

        if self._put(_Job(run, future.cancel), client, final=True):
            future.cancel()  # closed
        return future

    def run_final(self, fn: Callable[[], T], client: Hashable = None) -> T:
        """`submit_final` and wait: ``fn()``'s result, or its exception
        raised here. Runs ``fn`` on the calling thread instead when the
        worker is closed or is the caller."""
        if threading.current_thread() is self._thread:
            return fn()
        try:
            return self.submit_final(fn, client).result()
        except CancelledError:
            return fn()  # the worker closed before it ran

    def discard(self, client: Hashable) -> None:
        """Forget ``client``'s queued decodes (its utterance ended or was dropped)."""
        self._jobs.discard(client)

    def _put(self, job: _Job, client: Hashable, *, final: bool) -> list[_Job]:
        with self._lock:
            if self._closed:
                return [job]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return self._jobs.put(job, client, final=final)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job.run()
            except Exception:
                log.exception("background decode job failed")

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread after its current job, waiting up to ``timeout_s``;
        queued jobs are dropped (a waiting `run_final` runs its own)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        for job in self._jobs.close():
            if job.dropped is not None:
                job.dropped()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
