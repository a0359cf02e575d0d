"""The echo stage: cancel what the speaker played from what the mic heard.

`EchoPath` (in `path`) is the streaming canceller of one microphone against
one speaker: speexdsp (`speex`, a ctypes layer over Debian's
``libspeexdsp1``) fed a reference lined up by `align` (the delay by
cross-correlation, and the drift between two clocks). `cancel_offline` runs
it on two files' samples; `echo_unavailable` says in one line why it cannot
run here.
"""

from __future__ import annotations

import numpy as np

from assistant.stages.echo.path import EchoPath, EchoStats
from assistant.stages.echo.speex import SpeexUnavailable, library

__all__ = ["EchoPath", "EchoStats", "cancel_offline", "echo_unavailable"]


def echo_unavailable() -> str | None:
    """None when the canceller can run here; else one line saying why and how to fix it."""
    try:
        library()
    except SpeexUnavailable as exc:
        return str(exc)
    return None


def cancel_offline(
    mic: np.ndarray, reference: np.ndarray, rate: int, **options: object
) -> tuple[np.ndarray, EchoStats]:
    """Files: ``mic`` and the ``reference`` played from the moment mic
    starts (mono int16, the same ``rate`` already), unknown echo delay up
    to 0.3 s. Returns the cleaned mic (same length) and the final stats.
    ``options`` go to `EchoPath` (``suppress``, ``denoise``, ...)."""
    path = EchoPath(rate, **options)  # type: ignore[arg-type]
    try:
        path.play(np.asarray(reference, np.int16), 0.0)
        mic = np.asarray(mic, np.int16).ravel()
        frame = path.frame
        padded = np.concatenate([mic, np.zeros(-len(mic) % frame, np.int16)])
        blocks = [
            path.capture(padded[i : i + frame], i / rate) for i in range(0, len(padded), frame)
        ]
        out = np.concatenate(blocks)[: len(mic)] if blocks else mic.copy()
        return out, path.stats()
    finally:
        path.close()
