"""The endpointer contract: when has the speaker finished?

Hands-free turns (a wake word, a follow-up) and toggle mode have no button
release, so the listener asks an `Endpointer`. Both `SileroEndpointer` and
the energy `SilenceEndpointer` fulfil it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Endpointer(Protocol):
    """One utterance, fed by one thread. Pure apart from its model: no I/O,
    no clock; time is the audio fed, in seconds."""

    silence_s: float
    """Trailing non-speech that ends the utterance, in seconds."""
    speech_s: float
    """Total speech heard so far, in seconds."""
    trailing_quiet_s: float
    """Non-speech since the last speech (or the start), in seconds."""

    @property
    def heard_speech(self) -> bool:
        """True once enough speech was heard to count as an utterance."""
        ...

    @property
    def endpoint(self) -> bool:
        """Latches true after speech followed by ``silence_s`` of non-speech."""
        ...

    def update(self, samples: np.ndarray) -> bool:
        """Add mono int16 samples at 16 kHz, any length; True if any complete
        frame in them was speech."""
        ...
