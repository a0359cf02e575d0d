"""The audio stage's contract: a microphone that gives blocks, a speaker that takes chunks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.stages.audio.pcm import AudioChunk

__all__ = ["AudioChunk", "AudioSink", "AudioSource"]


class AudioSource(Protocol):
    """Microphone. `open` starts capture; `read` returns mono int16 blocks at
    `sample_rate_hz`. One reader thread calls `read`; `discard` and `close`
    may be called from any thread. The owner closes it."""

    sample_rate_hz: int
    """Rate of every block `read` returns, in Hertz."""
    exhausted: bool
    """True once a finite source (a file) has delivered its last block;
    always False for a microphone."""

    def open(self) -> None: ...
    def read(self, timeout_s: float) -> np.ndarray | None: ...
    def discard(self) -> None: ...
    def close(self) -> None: ...


class AudioSink(Protocol):
    """Speaker. `write` blocks while the playback queue is full. One writer
    thread calls `write` and `drain`; `stop`, `played_frames` and `close` may
    be called from any thread. The owner closes it."""

    paths: list[Path]
    """Files written so far, oldest first; always empty for a sound card."""

    def open(self, rate_hz: int) -> None: ...
    def write(self, chunk: AudioChunk, cancel: threading.Event | None = None) -> None: ...
    def played_frames(self) -> int: ...
    def drain(self, timeout_s: float) -> bool: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...
