"""The speech-recognition stage's contract: one streaming interface for every engine.

A `SpeechToText` engine is loaded once and hands out one `Transcriber` per
utterance: ``start()``, then ``accept()``\\* while the button is held (or
until ``endpoint()``), then ``finish()`` exactly once. Audio is mono int16 at
`ASR_RATE_HZ`.

The backends are `moonshine` (English's default), `vosk` (streaming; the pt
and es default) and `whisper` (optional extra, which decodes the growing
utterance in the background); only the composition root picks one.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Transcriber(Protocol):
    """One utterance.

    Used by one thread at a time (the hub hands an utterance from one of its
    lane's threads to another, never two at once). ``accept`` must keep up
    with real time and never waits for a decode; ``finish`` may block for
    the final decode (milliseconds for Vosk; for Whisper nothing when its
    last background decode already covered all the speech, else one decode
    of the utterance).
    ``close`` frees what it holds (queued decodes, a connection, a decoder)
    and may come instead of ``finish`` (an abandoned utterance) or after it.
    """

    def accept(self, samples: np.ndarray) -> None:
        """Feed mono int16 samples at 16 kHz, any block length (20-30 ms typical)."""
        ...

    def partial(self) -> str:
        """Best text so far, "" if none; cheap, never blocks on a decode.
        Vosk's comes from its decoder; Whisper's lags speech by a decode
        (about a second) and may revise its last words."""
        ...

    def endpoint(self) -> bool:
        """True once speech was heard and then trailing silence (toggle mode)."""
        ...

    def finish(self) -> str:
        """Final text, stripped; "" when nothing was recognized."""
        ...

    def close(self) -> None:
        """Drop the utterance and free its resources; idempotent. Called by
        whoever started it once it is done with it: after ``finish``, or
        instead of it when the utterance is abandoned."""
        ...


class SpeechToText(Protocol):
    """A recognizer. ``start`` and ``warm_up`` are called from the ASR worker
    thread; implementations load their model on first use (blocking, seconds)
    and may be warmed up ahead of the first turn. Whoever built it owns it;
    the model is freed with the object, so there is nothing to close."""

    name: str
    """Engine name, for logs and ``assistant doctor``."""
    sample_rate_hz: int
    """Rate `Transcriber.accept` expects, in Hertz (`ASR_RATE_HZ`)."""

    def start(self) -> Transcriber:
        """A new transcriber for one utterance, loading the model if needed.
        `ModelError` if the model cannot load, `SpeechToTextError` if the
        engine fails."""
        ...

    def warm_up(self) -> None:
        """Load the model and decode a moment of silence, so the first turn is fast."""
        ...
