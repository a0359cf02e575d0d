"""Collects the events a bus publishes, so tests can wait for one."""

from __future__ import annotations

import queue

from assistant.core.events import Event, EventBus, State, StateChanged

TIMEOUT_S = 180.0


class Recorder:
    """Collects published events; `wait_for` blocks until one matches."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._queue: queue.Queue[Event] = queue.Queue()
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._queue.put(event)

    def wait_for(self, predicate, timeout_s: float = TIMEOUT_S) -> Event:
        while True:
            try:
                event = self._queue.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(f"timed out; events so far: {self.events}") from None
            if predicate(event):
                return event

    def wait_state(self, state: State) -> Event:
        return self.wait_for(lambda e: isinstance(e, StateChanged) and e.new is state)

    def states(self) -> list[State]:
        return [e.new for e in self.events if isinstance(e, StateChanged)]
