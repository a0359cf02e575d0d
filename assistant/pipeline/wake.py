"""Hands-free: the always-on wake-word listener, and how a turn with no
button ends.

With ``[wake] enabled``, one ``wake`` thread is the microphone's only reader.
Every block goes to the detector while the controller is idle (and, with
barge-in, while it thinks or speaks, at a stricter threshold), and to the
`MicTap` whenever a turn has it open. A detection submits `WakeDetected` to
the controller like a button press and opens the tap at once, so the words
right after the wake word are queued for the turn instead of lost: the same
open stream is handed over. The thread never waits on the controller.

    wake thread:  mic.read -> detector (armed?) -> WakeDetected -> tap.prime
                           -> tap (open?) -> listen-N reads the tap
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.core.errors import AudioError
from assistant.core.events import Event, EventBus, State, StateChanged, WakeDetected
from assistant.pipeline.mictap import MicTap
from assistant.stages.audio.base import AudioSource
from assistant.stages.vad.base import Endpointer
from assistant.stages.wake.base import WakeDetector

log = logging.getLogger(__name__)

_READ_TIMEOUT_S = 0.1
_RETRY_S = 2.0
"""After the microphone failed, how long before it is reopened."""


@dataclass(frozen=True)
class HandsFreeListen:
    """How one turn with no button ends (given to `listener.Listening`)."""

    endpointer: Callable[[], Endpointer]
    """A fresh endpointer for the turn: Silero VAD, else the energy one."""
    wait_s: float
    """No speech at all within this long: nothing was said, the turn ends."""
    keep_queued: bool
    """Keep what the tap queued before the turn opened it (the words after
    a wake word); False drops it (the tail of its own reply)."""


@dataclass(frozen=True)
class HandsFree:
    """The controller's hands-free settings (`Controller` ``hands_free``)."""

    endpointer: Callable[[], Endpointer]
    follow_up_s: float = 0.0
    """After a reply, listen this long without the wake word; 0: never."""
    wake_wait_s: float = 5.0
    """After the wake word, how long to wait for the first words."""

    def toggle(self, mode: str) -> Callable[[], Endpointer] | None:
        """The endpointer for a button turn in ``mode``: toggle mode only."""
        return self.endpointer if mode == "toggle" else None

    def after_wake(self) -> HandsFreeListen:
        return HandsFreeListen(self.endpointer, self.wake_wait_s, keep_queued=True)

    def follow_up(self) -> HandsFreeListen | None:
        if self.follow_up_s <= 0:
            return None
        return HandsFreeListen(self.endpointer, self.follow_up_s, keep_queued=False)


class WakeListener:
    """Reads ``mic`` on its own ``wake`` thread, feeds ``detector`` and the
    turns' `tap`, and posts `WakeDetected` through the ``submit`` given to
    `start` (the controller's, which is built on the tap).

    It follows the controller's state from ``bus`` (`StateChanged`): armed
    at ``threshold`` while idle, and at ``barge_in_threshold`` while thinking
    or speaking if that is not None; never while a turn listens. `start`
    opens nothing; the thread opens the microphone and reopens it after a
    failure (a turn reading the tap then gets the `AudioError`). `stop`
    joins the thread and closes the microphone; it closes the detector too,
    which it was given to own. Safe to call twice.
    """

    def __init__(
        self,
        mic: AudioSource,
        detector: WakeDetector,
        bus: EventBus,
        *,
        threshold: float | None = None,
        barge_in_threshold: float | None = None,
    ) -> None:
        self.mic = mic
        self.detector = detector
        self.tap = MicTap(mic.sample_rate_hz)
        """The `AudioSource` turns read instead of the microphone."""
        self._submit: Callable[[Event], None] = lambda event: None
        self.threshold = threshold
        self.barge_in_threshold = barge_in_threshold
        self._state = State.IDLE
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = bus.subscribe(self._on_event)
        self._read_samples = 0
        self._fed_samples = 0

    @property
    def finished(self) -> bool:
        """True once a finite microphone (a file) has been read to its end."""
        return self.mic.exhausted

    def start(self, submit: Callable[[Event], None]) -> None:
        self._submit = submit
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wake", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop the thread and close the microphone; True if it ended in time."""
        self._unsubscribe()
        self._stopping.set()
        self.tap.close()
        thread, self._thread = self._thread, None
        ended = True
        if thread is not None:
            thread.join(timeout_s)
            ended = not thread.is_alive()
        self.mic.close()
        if ended:
            self.detector.close()
        return ended

    def armed_threshold(self) -> float | None:
        """The threshold to detect at now, or None when not listening for
        the wake word; 0 means each model's own cutoff."""
        if self._state is State.IDLE:
            return self.threshold or 0.0
        if self._state in (State.THINKING, State.SPEAKING):
            return self.barge_in_threshold
        return None

    def _on_event(self, event: Event) -> None:
        # On the controller thread: only note the state, never block.
        if isinstance(event, StateChanged):
            self._state = event.new

    def _run(self) -> None:
        was_armed = True
        while not self._stopping.is_set():
            try:
                self.mic.open()
                block = self.mic.read(_READ_TIMEOUT_S)
            except AudioError as exc:
                log.error("wake listener: %s; retrying in %g s", exc, _RETRY_S)
                self.tap.fail(exc)
                self.mic.close()
                self._stopping.wait(_RETRY_S)
                continue
            if block is None:
                if self.mic.exhausted:
                    self.tap.finish()
                    self._stopping.wait()
                continue
            self._read_samples += len(block)
            self.tap.put(block)
            threshold = self.armed_threshold()
            if threshold is None:
                was_armed = False
                continue
            if not was_armed:
                # Its own voice or the last command must not complete a
                # wake word begun before the turn.
                self.detector.reset()
                self._fed_samples = 0
                was_armed = True
            self._feed(block, threshold)

    def _feed(self, block: np.ndarray, threshold: float) -> None:
        self._fed_samples += len(block)
        for found in self.detector.process(block, threshold or None):
            # Detector time restarts at each reset; report stream time.
            offset_s = (self._read_samples - self._fed_samples) / self.mic.sample_rate_hz
            event = WakeDetected(found.word, found.score, t_s=round(found.t_s + offset_s, 3))
            log.info("wake word %s (score %.3f) at %.2f s", found.word, found.score, event.t_s)
            self.tap.prime()
            self._submit(event)
