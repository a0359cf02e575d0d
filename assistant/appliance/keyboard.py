"""`KeyboardButton`: Enter on a terminal as the push-to-talk button, for
``assistant run --keyboard`` and machines without GPIO."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Literal, TextIO

from assistant.core.events import ButtonPressed, ButtonReleased, Event, State


class KeyboardButton:
    """Each line read from ``stream`` (stdin) is a press of the button.

    ``mode`` is the turn mode (``TurnConfig.mode``). Hold mode: one Enter
    presses, the next releases, so ``state()`` (the controller's current
    state) tells which one it is. Toggle mode: every Enter is a full press
    and release, and the controller decides what it means.

    `start` reads on a daemon thread, which only calls ``submit`` (it must not
    block); the thread ends with the stream, or with the process: a thread
    blocked reading stdin cannot be woken, so `close` only makes it ignore
    what comes next.
    """

    def __init__(
        self,
        submit: Callable[[Event], None],
        state: Callable[[], State],
        *,
        mode: Literal["hold", "toggle"],
        stream: TextIO | None = None,
    ) -> None:
        self._submit = submit
        self._state = state
        self.mode = mode
        self.stream = stream or sys.stdin
        self._thread = threading.Thread(target=self.read_all, name="keyboard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def read_all(self) -> None:
        """Submit the events for every line until the stream ends (blocks).

        Reads bytes when the stream has them (stdin does): what is typed
        before Enter does not matter, so bytes that are not valid text in
        the locale are a press too, never a dead button."""
        toggle = self.mode == "toggle"
        lines = getattr(self.stream, "buffer", self.stream)
        for _line in lines:
            listening = self._state() is State.LISTENING
            if toggle or not listening:
                self._submit(ButtonPressed())
            if toggle or listening:
                self._submit(ButtonReleased())

    def close(self) -> None:
        """Ignore further lines. The reading thread blocked on stdin cannot be
        woken, so it lets go of the controller instead: what the controller
        holds (the microphone's resampler) is then freed before the process
        exits, not reported as leaked by its extension at shutdown."""
        self._submit = _ignore
        self._state = _idle

    def __enter__(self) -> KeyboardButton:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _ignore(event: Event) -> None:
    pass


def _idle() -> State:
    return State.IDLE
