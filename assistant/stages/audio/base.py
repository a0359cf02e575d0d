"""The audio stage's contract: a microphone that gives blocks, a speaker that takes chunks.

Implementations: `mic.SoundDeviceSource` and `speaker.SoundDeviceSink`
(PortAudio), `wavfile.WavFileSource` and `wavfile.WavFileSink` (files).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.stages.audio.pcm import AudioChunk


class AudioSource(Protocol):
    """Microphone. `open` starts capture; `read` returns mono int16 blocks at
    `sample_rate_hz`. One reader thread calls `read`; `discard` and `close`
    may be called from any thread. The owner closes it."""

    sample_rate_hz: int
    """Rate of every block `read` returns, in Hertz."""

    @property
    def exhausted(self) -> bool:
        """True once a finite source (a file) has delivered its last block;
        always False for a microphone."""
        ...

    def open(self) -> None:
        """Start capture; `AudioError` naming the device and the fix if it
        cannot. Opening an open source does nothing."""
        ...

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The next block, waiting up to ``timeout_s`` seconds; None on
        timeout, once closed, or once exhausted. `AudioError` if the device
        failed (`close` then `open` recovers)."""
        ...

    def discard(self) -> None:
        """Drop audio captured but not yet read."""
        ...

    def close(self) -> None:
        """Stop capture and release the device; wakes a blocked `read`. Idempotent."""
        ...


class AudioSink(Protocol):
    """Speaker. `write` blocks while the playback queue is full. One writer
    thread calls `write` and `drain`; `stop`, `played_frames` and `close` may
    be called from any thread. The owner closes it."""

    @property
    def paths(self) -> list[Path]:
        """Files written so far, oldest first; always empty for a sound card."""
        ...

    def open(self, rate_hz: int) -> None:
        """Get ready for audio at ``rate_hz`` Hertz; reopening starts afresh."""
        ...

    def write(self, chunk: AudioChunk, cancel: threading.Event | None = None) -> None:
        """Queue ``chunk`` (any rate: resampled); returns early once ``cancel``
        is set or `stop` is called. `AudioError` if not open or the device failed."""
        ...

    def played_frames(self) -> int:
        """Frames handed to the device since `open`, at the rate given to `open`."""
        ...

    def drain(self, timeout_s: float) -> bool:
        """Wait until the queued audio has played; True if done within ``timeout_s``."""
        ...

    def stop(self) -> None:
        """Cut playback now and drop queued audio; the sink stays open."""
        ...

    def close(self) -> None:
        """Stop and release the device. Idempotent."""
        ...
