"""`PacedWavSource`: an audio file played as a live microphone, at the pace
it was spoken (``assistant listen --realtime``, the bench's streaming arm,
the soak's voice turns).

Unlike `wavfile.WavFileSource`, which hands every block over at once, block
``i`` becomes readable only ``(i + 1) * block_ms`` after `open`, as a
microphone captures it. So the recognizer hears the question while it is
being "spoken", and the turn lasts as long as the question. The file's end
is the button's release: `released_s` is when its last sample is delivered.

`voiced_span` finds where the speech is in the file (frame RMS against the
file's loudest frame), so a caller can time "the speaker fell silent ->
first reply audio" (`speech_end_s`), which is what a person feels.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.stages.audio.audiofile import MAX_BLOCK_SAMPLES, AudioFileReader
from assistant.stages.audio.pcm import ASR_RATE_HZ, resample

FRAME_S = 0.02
"""Frame length of the voiced-speech measure, in seconds."""
VOICED_BELOW_PEAK_DB = 35.0
"""A frame is voiced within this many dB of the file's loudest frame..."""
QUIET_DBFS = -60.0
"""...and louder than this (so a file of faint hiss has no speech)."""


def voiced_span(samples: np.ndarray, rate_hz: int) -> tuple[int, int] | None:
    """(first voiced sample, one past the last voiced sample) of mono int16
    ``samples``, on `FRAME_S` frames whose RMS is within
    `VOICED_BELOW_PEAK_DB` of the loudest frame's and above `QUIET_DBFS`;
    None when no frame is voiced. Pure."""
    frame = max(1, round(rate_hz * FRAME_S))
    n_frames = -(-len(samples) // frame)
    if n_frames == 0:
        return None
    padded = np.zeros(n_frames * frame, np.float64)
    padded[: len(samples)] = np.asarray(samples, np.float64) / 32768.0
    power = np.mean(padded.reshape(n_frames, frame) ** 2, axis=1)
    levels = 10.0 * np.log10(np.maximum(power, 1e-12))
    voiced = np.flatnonzero((levels > QUIET_DBFS) & (levels >= levels.max() - VOICED_BELOW_PEAK_DB))
    if len(voiced) == 0:
        return None
    return int(voiced[0]) * frame, min(len(samples), (int(voiced[-1]) + 1) * frame)


def read_samples(path: Path, max_s: float | None = None) -> np.ndarray:
    """The file's first ``max_s`` seconds (all of it when None) as mono int16
    at 16 kHz; `AudioError` if it is missing or not a readable audio file.
    Memory is bounded by ``max_s``, not by the file's length."""
    reader = AudioFileReader(Path(path))
    try:
        rate = reader.info.rate_hz
        limit = None if max_s is None else max(0, round(max_s * rate))
        blocks, total = [], 0
        while limit is None or total < limit:
            want = MAX_BLOCK_SAMPLES if limit is None else min(MAX_BLOCK_SAMPLES, limit - total)
            block = reader.read(want)
            if not len(block):
                break
            blocks.append(block)
            total += len(block)
    finally:
        reader.close()
    samples = np.concatenate(blocks) if blocks else np.zeros(0, np.int16)
    return resample(samples, rate, ASR_RATE_HZ)


class PacedWavSource:
    """`AudioSource` over the file given to `load`, paced at real time.

    One reader thread calls `read`; `load` is called between turns (while no
    turn is listening); `close` may come from any thread and wakes a waiting
    `read`. Times are in seconds of ``clock`` (``time.monotonic`` unless a
    test injects one). A block is delivered at its due time whether or not
    the reader is there to take it, as a microphone captures: a reader that
    falls behind finds the late blocks waiting. Holds no device: nothing to
    release but the samples.
    """

    sample_rate_hz = ASR_RATE_HZ

    def __init__(self, block_ms: int = 30, clock: Callable[[], float] = time.monotonic) -> None:
        self._block = max(1, ASR_RATE_HZ * block_ms // 1000)
        self._clock = clock
        self._loaded = np.zeros(0, np.int16)
        self._voiced: tuple[int, int] | None = None
        self._samples: np.ndarray | None = None
        self._pos = 0
        self._opened_s: float | None = None
        self._closed = threading.Event()

    def load(self, path: Path, max_s: float | None = None) -> float:
        """Read ``path`` (at most its first ``max_s`` seconds) for the next
        `open`; returns its length in seconds. `AudioError` if it is missing
        or not a readable audio file (see `audiofile.ACCEPTED`)."""
        self._loaded = read_samples(path, max_s)
        self._voiced = voiced_span(self._loaded, ASR_RATE_HZ)
        return self.duration_s

    @property
    def samples(self) -> np.ndarray:
        """The loaded file, mono int16 at 16 kHz (empty before `load`)."""
        return self._loaded

    @property
    def duration_s(self) -> float:
        return len(self._loaded) / ASR_RATE_HZ

    def delivered_offset_s(self, index: int) -> float:
        """When sample ``index`` is delivered, in seconds after `open`: at the
        end of its block."""
        end = min((index // self._block + 1) * self._block, len(self._loaded))
        return end / ASR_RATE_HZ

    @property
    def quiet_tail_s(self) -> float | None:
        """From the delivery of the last voiced sample to the release, in
        seconds; None when the file has no voiced frame."""
        if self._voiced is None:
            return None
        return self.duration_s - self.delivered_offset_s(self._voiced[1] - 1)

    @property
    def voiced_s(self) -> tuple[float, float] | None:
        """(start, end) of the speech in the file, seconds from its start
        (see `voiced_span`); None when it has none."""
        if self._voiced is None:
            return None
        return self._voiced[0] / ASR_RATE_HZ, self._voiced[1] / ASR_RATE_HZ

    @property
    def released_s(self) -> float | None:
        """When the last sample is (or was) delivered: the button's release.
        None before the first `open`; kept after `close` until the next."""
        if self._opened_s is None:
            return None
        return self._opened_s + self.duration_s

    @property
    def speech_end_s(self) -> float | None:
        """When the last voiced sample is (or was) delivered; None before
        the first `open` or when the file has no voiced frame."""
        tail = self.quiet_tail_s
        released = self.released_s
        return None if tail is None or released is None else released - tail

    @property
    def exhausted(self) -> bool:
        """True once the last block was read (False before `open` and after `close`)."""
        return self._samples is not None and self._pos >= len(self._samples)

    def open(self) -> None:
        """Start "capturing" the loaded file now (nothing if none was loaded).
        Opening an open source does nothing."""
        if self._samples is not None:
            return
        self._samples = self._loaded
        self._pos = 0
        self._opened_s = self._clock()
        self._closed.clear()

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The next block once it has been "captured", waiting up to
        ``timeout_s``; None on timeout, once closed, or once exhausted."""
        samples = self._samples
        if samples is None or self._pos >= len(samples) or self._opened_s is None:
            return None
        end = min(self._pos + self._block, len(samples))
        wait_s = self._opened_s + end / ASR_RATE_HZ - self._clock()
        if wait_s > timeout_s:
            self._closed.wait(timeout_s)
            return None
        if wait_s > 0 and self._closed.wait(wait_s):
            return None
        if self._closed.is_set():
            return None
        block = samples[self._pos : end]
        self._pos = end
        return block

    def discard(self) -> None:
        """Nothing is captured ahead of the clock, so nothing to drop."""

    def close(self) -> None:
        """End this playback; `open` plays the loaded file again (`load`
        first for another). Idempotent."""
        self._closed.set()
        self._samples = None
