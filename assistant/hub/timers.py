"""Timers set by a turn the hub answered, told to the client that asked.

The hub does not ring a timer, and keeps no connection open for one: the
turn's answer carries Wyoming's timer events (``wyoming.timer``, the ones
Home Assistant sends its satellites) before ``handled``, and the client runs
the countdown itself. The project's satellites do, with their own earcon
and LEDs (`assistant.skills.timers.FollowedTimers`); a client that does not
know the events ignores them, as Wyoming clients do with unknown events.

`TimerReport` compares a conversation's timers before and after a turn:

- a new timer: ``timer-started`` (its length, and its name when it has one);
- a timer whose due time moved: ``timer-updated`` (the seconds left);
- a timer gone before it was due: ``timer-cancelled``;
- a timer that came due since that conversation's last turn is removed at
  the start of the next and reported as ``timer-finished`` (the client's
  countdown rang it already), so the hub's list of timers stays true.

Timer ids are ``<conversation id>-<n>``. Runs on the LLM lane's thread,
inside the turn's job, so two turns of one conversation never interleave.
"""

from __future__ import annotations

from typing import Protocol

from wyoming.event import Event
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated


class Timer(Protocol):
    """A running timer, as the skills' `Timer` has it."""

    @property
    def id(self) -> int: ...
    @property
    def duration_s(self) -> int: ...
    @property
    def due_s(self) -> float: ...
    @property
    def label(self) -> str: ...


class TimerBoard(Protocol):
    """A conversation's timers (the skills' `Timers`): thread-safe."""

    def active(self) -> list[Timer]: ...
    def due(self) -> list[Timer]: ...
    def remaining_s(self, timer: Timer) -> float: ...


class TimerReport:
    """One turn's timer events for ``board``; `start` before the turn's
    answer, `events` after it. Without a board (skills that keep no
    timers) there are none."""

    def __init__(self, board: TimerBoard | None, conversation_id: str) -> None:
        self.board = board
        self.prefix = conversation_id
        self._before: dict[int, Timer] = {}
        self._finished: list[Event] = []

    def _id(self, timer: Timer) -> str:
        return f"{self.prefix}-{timer.id}"

    def start(self) -> None:
        if self.board is None:
            return
        self._finished = [TimerFinished(id=self._id(t)).event() for t in self.board.due()]
        self._before = {t.id: t for t in self.board.active()}

    def events(self) -> list[Event]:
        if self.board is None:
            return []
        after = {t.id: t for t in self.board.active()}
        events = list(self._finished)
        for key, timer in after.items():
            old = self._before.get(key)
            if old is None:
                hours, rest = divmod(timer.duration_s, 3600)
                minutes, seconds = divmod(rest, 60)
                started = TimerStarted(
                    id=self._id(timer),
                    total_seconds=timer.duration_s,
                    name=timer.label or None,
                    start_hours=hours,
                    start_minutes=minutes,
                    start_seconds=seconds,
                )
                events.append(started.event())
            elif old.due_s != timer.due_s:
                left = round(self.board.remaining_s(timer))
                events.append(TimerUpdated(self._id(timer), True, left).event())
        for key, timer in self._before.items():
            if key not in after:
                events.append(TimerCancelled(id=self._id(timer)).event())
        return events
