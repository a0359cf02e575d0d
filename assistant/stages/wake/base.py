"""The wake-word stage's contract: audio in, detections out.

A `WakeDetector` is fed mono int16 blocks at `ASR_RATE_HZ` by one thread
(the always-on listener, or ``assistant wake``) and answers with the
detections completed by that block. It keeps its own clock: ``t_s`` is the
position in the audio fed since the last `reset`, so a file gives the same
times on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detection:
    """A wake word was heard."""

    word: str
    """Model id, e.g. ``hey_mycroft``."""
    t_s: float
    """End of the detection window: seconds of audio fed since `reset`."""
    score: float
    """Averaged probability that crossed the threshold, 0 to 1."""


class WakeDetector(Protocol):
    """Always-on keyword spotter.

    `process` is called from one thread only, must keep up with real time
    (a few ms per 10-20 ms block on a Pi) and never blocks on I/O. The
    threshold can be changed between calls (barge-in uses a stricter one).
    Whoever built it owns it; `close` frees the models and is idempotent.
    """

    name: str
    """Engine name, for logs and ``assistant doctor``."""
    words: tuple[str, ...]
    """The wake words it listens for."""
    sample_rate_hz: int
    """Rate `process` expects, in Hertz."""

    def process(self, samples: np.ndarray, threshold: float | None = None) -> list[Detection]:
        """Feed mono int16 samples, any length; return the detections whose
        score is above ``threshold`` (None: each model's own cutoff), in
        order. A word is reported again only after its refractory time."""
        ...

    def reset(self) -> None:
        """Forget the audio so far (a new stream); the clock restarts at 0."""
        ...

    def close(self) -> None:
        """Free the models. Idempotent."""
        ...
