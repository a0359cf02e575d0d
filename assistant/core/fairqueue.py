"""A job queue shared by several clients, served fairly and bounded per client.

The hub's engine lanes and Whisper's decode worker each run one job at a
time for every client. A plain FIFO lets one client's cheap, speculative
work (partial decodes) sit in front of another client's final decode, and
lets a busy client queue as much as it likes. `FairQueue` orders jobs by
two rules instead:

* **Final before partial.** A final job (the one somebody is waiting on:
  a transcript at release, a reply) goes before every queued partial one
  (work whose result only refines a preview and may be skipped).
* **Openings first.** A final job put as ``opening`` (the first audio of
  a reply: until it is made, its client hears nothing) goes before every
  other final job (a later sentence, whose client is already listening).
* **Clients take turns.** Within each class, clients are served round-robin:
  after a client's job is taken, the client goes to the back of the
  rotation, so N clients each wait at most N - 1 jobs of their class.

Each client may have at most ``max_partials`` partial jobs queued; putting
one more drops its oldest, which `put` hands back so the caller can tell
whoever waits on it. Final jobs are never dropped (a client has at most one
in flight per request, and a request is bounded elsewhere).

With several consumer threads, ``exclusive`` keeps each client's jobs one at
a time and in order: `get` skips a client whose job is still running until
the consumer calls `done` for it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Hashable
from typing import Generic, TypeVar

J = TypeVar("J")


class FairQueue(Generic[J]):
    """Jobs of type ``J`` keyed by client (any hashable: a connection, a
    transcriber). Thread-safe: any thread may `put`, `discard` and `close`;
    consumers block in `get`. Nothing here runs a job."""

    def __init__(self, max_partials: int = 4, *, exclusive: bool = False) -> None:
        if max_partials < 1:
            raise ValueError(f"max_partials must be at least 1, not {max_partials}")
        self.max_partials = max_partials
        self.exclusive = exclusive
        self._running: set[Hashable] = set()
        self._cond = threading.Condition()
        # One rotation per class: client -> its jobs, oldest first. The first
        # client in the dict is served next; a served client moves to the end.
        self._opening: OrderedDict[Hashable, deque[J]] = OrderedDict()
        self._final: OrderedDict[Hashable, deque[J]] = OrderedDict()
        self._partial: OrderedDict[Hashable, deque[J]] = OrderedDict()
        self._rotations = (self._opening, self._final, self._partial)
        self._closed = False
        self.dropped = 0
        """Partial jobs dropped for going over a client's bound, so far."""

    def put(self, job: J, client: Hashable, *, final: bool, opening: bool = False) -> list[J]:
        """Queue ``job`` for ``client``; never blocks. ``opening`` (a final
        job only) puts it before the other final jobs. Returns the jobs that
        were dropped to keep the client's partials within bound (oldest
        first; usually none), or ``[job]`` itself when the queue is closed."""
        with self._cond:
            if self._closed:
                return [job]
            if opening and final:
                rotation = self._opening
            else:
                rotation = self._final if final else self._partial
            jobs = rotation.get(client)
            if jobs is None:
                jobs = rotation[client] = deque()  # a new client joins at the back
            jobs.append(job)
            dropped: list[J] = []
            while not final and len(jobs) > self.max_partials:
                dropped.append(jobs.popleft())
            self.dropped += len(dropped)
            self._cond.notify()
            return dropped

    def get(self, timeout_s: float | None = None) -> J | None:
        """The next job, blocking until there is one; None once the queue is
        closed (jobs left in it were handed back by `close`) or after
        ``timeout_s`` with nothing to do. With ``exclusive``, the caller
        owes a `done` for the job's client."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or self._next(), timeout_s):
                return None
            if self._closed:
                return None
            found = self._next()
            assert found is not None
            rotation, client = found
            jobs = rotation[client]
            job = jobs.popleft()
            if jobs:
                rotation.move_to_end(client)
            else:
                del rotation[client]
            if self.exclusive:
                self._running.add(client)
            return job

    def done(self, client: Hashable) -> None:
        """``client``'s job from `get` has ended (``exclusive`` only): its
        next job may be handed out."""
        with self._cond:
            self._running.discard(client)
            self._cond.notify_all()

    def discard(self, client: Hashable) -> list[J]:
        """Remove every queued job of ``client`` (it went away) and return them."""
        with self._cond:
            return [job for r in self._rotations for job in r.pop(client, ())]

    def close(self) -> list[J]:
        """Stop handing out jobs: wakes every `get`, and returns the jobs
        still queued so the caller can cancel them. Idempotent."""
        with self._cond:
            self._closed = True
            left = [job for r in self._rotations for q in r.values() for job in q]
            for rotation in self._rotations:
                rotation.clear()
            self._cond.notify_all()
            return left

    def __len__(self) -> int:
        with self._cond:
            return sum(len(q) for r in self._rotations for q in r.values())

    def _next(self) -> tuple[OrderedDict[Hashable, deque[J]], Hashable] | None:
        """The rotation and client to serve next, or None; lock held."""
        for rotation in self._rotations:
            for client in rotation:
                if client not in self._running:
                    return rotation, client
        return None
