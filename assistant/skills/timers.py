"""Kitchen timers, on an injected monotonic clock.

`Timers` holds no thread: the controller calls `due` when it is idle (its
loop wakes at least every half second), and tests advance a fake clock
instead of sleeping. A timer that comes due while a reply is playing is
announced as soon as the controller is idle again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_TIMERS = 10
MAX_DURATION_S = 24 * 3600


@dataclass(frozen=True)
class Timer:
    id: int
    duration_s: int
    """The length asked for, in seconds."""
    due_s: float
    """Clock reading (seconds) at which it rings."""
    label: str = ""
    """A name the user gave ("pasta"), or empty."""


class Timers:
    """The running timers. Every method is quick and thread-safe.

    ``clock`` returns seconds (default `time.monotonic`); it is injected so a
    test can move time forward.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._timers: list[Timer] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, duration_s: int, label: str = "") -> Timer:
        """Start a timer. Raise ValueError for a length outside 1 s to 24 h, or
        when `MAX_TIMERS` are already running."""
        if not 1 <= duration_s <= MAX_DURATION_S:
            raise ValueError(f"timer of {duration_s} s is not allowed; use 1 s to 24 hours")
        with self._lock:
            if len(self._timers) >= MAX_TIMERS:
                raise ValueError(f"{MAX_TIMERS} timers are already running; cancel one first")
            timer = Timer(self._next_id, int(duration_s), self.clock() + duration_s, label)
            self._next_id += 1
            self._timers.append(timer)
        log.info("timer %d set for %d s%s", timer.id, duration_s, f" ({label})" if label else "")
        return timer

    def active(self) -> list[Timer]:
        """Running timers, soonest first."""
        with self._lock:
            return sorted(self._timers, key=lambda t: t.due_s)

    def remaining_s(self, timer: Timer) -> float:
        """Seconds until ``timer`` rings (0 once due)."""
        return max(0.0, timer.due_s - self.clock())

    def cancel(self, timers: list[Timer]) -> list[Timer]:
        """Stop the given timers; return those that were still running."""
        ids = {t.id for t in timers}
        with self._lock:
            gone = [t for t in self._timers if t.id in ids]
            self._timers = [t for t in self._timers if t.id not in ids]
        for timer in gone:
            log.info("timer %d cancelled", timer.id)
        return gone

    def due(self) -> list[Timer]:
        """Remove and return the timers whose time has come, soonest first."""
        now = self.clock()
        with self._lock:
            ready = sorted((t for t in self._timers if t.due_s <= now), key=lambda t: t.due_s)
            self._timers = [t for t in self._timers if t.due_s > now]
        for timer in ready:
            log.info("timer %d is due", timer.id)
        return ready

    def next_due_in_s(self) -> float | None:
        """Seconds until the next timer rings, or None when none runs."""
        with self._lock:
            if not self._timers:
                return None
            return max(0.0, min(t.due_s for t in self._timers) - self.clock())


class FollowedTimers:
    """Timers another machine set for this one, run here as local `Timer`\\s.

    A satellite whose question the hub answered hears of the hub's timers
    as events (the hub's ``timer-started``, ``timer-updated``,
    ``timer-cancelled``, ``timer-finished``); each started one becomes a
    timer of ``timers``, so it rings here, with this appliance's earcon and
    LEDs, like one set by voice here. Called as ``follow(kind, timer_id,
    seconds, name)`` (the remote language model's ``on_timer``), on any
    thread: ``started`` (``seconds`` long), ``updated`` (``seconds`` left),
    ``paused`` and ``cancelled`` (stop the countdown), ``finished`` (the
    local countdown rings on its own clock, so nothing to do).
    """

    def __init__(self, timers: Timers) -> None:
        self.timers = timers
        self._local: dict[str, Timer] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, timer_id: str, seconds: int, name: str = "") -> None:
        with self._lock:
            old = self._local.pop(timer_id, None)
            running = {t.id for t in self.timers.active()}
            # Forget the ones that rang here already: the map stays small.
            self._local = {k: t for k, t in self._local.items() if t.id in running}
        if old is not None and kind != "finished":
            self.timers.cancel([old])
        if kind == "updated" and old is not None:
            kind, name = "started", old.label
        if kind != "started":
            log.info("hub timer %s %s", timer_id, kind)
            return
        try:
            timer = self.timers.add(seconds, name)
        except ValueError as exc:
            log.warning("the hub's timer %s is not kept here: %s", timer_id, exc)
            return
        with self._lock:
            self._local[timer_id] = timer
