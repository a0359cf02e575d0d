"""`MicTap`: the microphone as turns see it when the wake listener owns it.

The ``wake`` thread is the device's only reader and `put`s every block; the
tap keeps them only while a turn has it open (or after `prime`, the moment a
wake word ends), so a turn reads from the same open stream the detector
heard. Closing the tap never closes the microphone.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from assistant.core.errors import AudioError

_MAX_BLOCKS = 1000
"""About 30 s of 30 ms blocks: a primed tap nobody opens stops growing."""


class MicTap:
    """An `AudioSource` fed by another thread. `read` is called by one turn
    thread; `put`, `prime`, `fail` and `finish` by the wake thread; `open`,
    `discard` and `close` from any thread."""

    def __init__(self, sample_rate_hz: int) -> None:
        self.sample_rate_hz = sample_rate_hz
        self._blocks: collections.deque[np.ndarray] = collections.deque(maxlen=_MAX_BLOCKS)
        self._cond = threading.Condition()
        self._open = False
        self._error: AudioError | None = None
        self._finished = False

    @property
    def exhausted(self) -> bool:
        with self._cond:
            return self._finished and not self._blocks

    def open(self) -> None:
        with self._cond:
            self._open = True

    def prime(self) -> None:
        """Start keeping blocks now, before the turn opens the tap."""
        self.open()

    def read(self, timeout_s: float) -> np.ndarray | None:
        with self._cond:
            self._cond.wait_for(
                lambda: self._blocks or self._error or self._finished or not self._open,
                timeout_s,
            )
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            return self._blocks.popleft() if self._blocks else None

    def discard(self) -> None:
        with self._cond:
            self._blocks.clear()

    def close(self) -> None:
        with self._cond:
            self._open = False
            self._blocks.clear()
            self._error = None
            self._cond.notify_all()

    def put(self, block: np.ndarray) -> None:
        """From the wake thread: a block from the microphone; dropped unless open."""
        with self._cond:
            if self._open:
                self._blocks.append(block)
                self._cond.notify_all()

    def fail(self, error: AudioError) -> None:
        """From the wake thread: the microphone failed; an open turn's `read` raises it."""
        with self._cond:
            if self._open:
                self._error = error
                self._cond.notify_all()

    def finish(self) -> None:
        """From the wake thread: a finite source (a file) ended."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()
