"""`PacedWavSource`: WAV files played as a microphone at real-time pace, for
the soak's voice turns (`bench.soak`).

Unlike `WavFileSource`, which hands every block over at once, a block is
given only once it would have been captured: block ``i`` of a file becomes
readable ``(i + 1) * block_ms`` after `open`. So the recognizer hears the
question as a live microphone delivers it, and the turn takes as long as the
question is spoken. The file is read (and resampled to 16 kHz) by `load`,
ahead of the turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.stages.audio.pcm import ASR_RATE_HZ, resample
from assistant.stages.audio.wavfile import read_wav


class PacedWavSource:
    """`AudioSource` over the file given to `load`, paced at real time.

    One reader thread calls `read`; `load` is called between turns (while
    no turn is listening); `close` may come from any thread and wakes a
    waiting `read`. Holds no device: nothing to release but the samples.
    """

    sample_rate_hz = ASR_RATE_HZ

    def __init__(self, block_ms: int = 30, clock: Callable[[], float] = time.monotonic) -> None:
        self._block = ASR_RATE_HZ * block_ms // 1000
        self._clock = clock
        self._loaded: np.ndarray | None = None
        self._samples: np.ndarray | None = None
        self._pos = 0
        self._opened_s = 0.0
        self._closed = threading.Event()

    def load(self, path: Path) -> float:
        """Read ``path`` for the next `open`; returns its length in seconds.
        `AudioError` if it is missing or not a WAV file."""
        chunk = read_wav(path)
        self._loaded = resample(chunk.samples, chunk.rate_hz, ASR_RATE_HZ)
        return len(self._loaded) / ASR_RATE_HZ

    @property
    def exhausted(self) -> bool:
        """True once the last block was read (False before `open`)."""
        return self._samples is not None and self._pos >= len(self._samples)

    def open(self) -> None:
        """Start "capturing" the loaded file now (silence if none was loaded)."""
        if self._samples is not None:
            return
        loaded = self._loaded if self._loaded is not None else np.zeros(0, dtype=np.int16)
        self._samples = loaded
        self._pos = 0
        self._opened_s = self._clock()
        self._closed.clear()

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The next block once it has been "captured", waiting up to
        ``timeout_s``; None on timeout, once closed, or once exhausted."""
        samples = self._samples
        if samples is None or self._pos >= len(samples):
            return None
        end = min(self._pos + self._block, len(samples))
        due_s = self._opened_s + end / ASR_RATE_HZ
        wait_s = due_s - self._clock()
        if wait_s > timeout_s:
            self._closed.wait(timeout_s)
            return None
        if wait_s > 0 and self._closed.wait(wait_s):
            return None
        block = samples[self._pos : end]
        self._pos = end
        return block

    def discard(self) -> None:
        """Nothing is captured ahead of the clock, so nothing to drop."""

    def close(self) -> None:
        """End this playback; `load` and `open` start the next. Idempotent."""
        self._closed.set()
        self._samples = None
