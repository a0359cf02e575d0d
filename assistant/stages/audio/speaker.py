"""`SoundDeviceSink`: the PortAudio speaker, an `AudioSink`.

PortAudio calls the stream callback on its own thread. It only copies queued
blocks out to the device: it never blocks, resamples or logs. Resampling
happens on the writer's thread, in `write`, and the queue is kept short so
`stop` silences the speaker quickly.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.config import AudioConfig
from assistant.core.errors import AudioError
from assistant.stages.audio.devices import device_info, find_device
from assistant.stages.audio.pcm import AudioChunk, resample
from assistant.stages.audio.portaudio import (
    PA_INVALID_SAMPLE_RATE,
    close_quietly,
    error_code,
    is_active,
    rescan,
    sounddevice,
    stream_attr,
    stream_closed,
    stream_opened,
)

log = logging.getLogger(__name__)


@dataclass
class _Playback:
    """State of one open output stream (see `_Capture`)."""

    blocks: queue.Queue
    rate_hz: int
    """Rate of the stream, which may differ from the rate given to open()."""
    open_rate_hz: int
    block_frames: int
    name: str
    stream: Any = None
    closing: bool = False
    failure: str | None = None
    generation: int = 0
    pending: np.ndarray | None = None
    flush: bool = False
    played: int = 0
    idle: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)

    def clear(self) -> None:
        while True:
            try:
                self.blocks.get_nowait()
            except queue.Empty:
                return


class SoundDeviceSink:
    """PortAudio speaker, mono int16.

    `open` asks for ``rate_hz``; a device that refuses it is opened at its
    native rate and `write` resamples. At most ``max_queue_ms`` of audio is
    queued, so `stop` silences the speaker within about that plus one block.
    One writer thread calls `write` and `drain`; `stop`, `played_frames` and
    `close` may be called from any thread. The owner closes it.
    """

    def __init__(self, config: AudioConfig, *, max_queue_ms: int = 120):
        self._config = config
        self._max_queue_ms = max_queue_ms
        self._playback: _Playback | None = None
        self._last: _Playback | None = None
        self._needs_rescan = False
        self._lock = threading.Lock()

    @property
    def paths(self) -> list[Path]:
        """A speaker writes no files: always empty."""
        return []

    def open(self, rate_hz: int) -> None:
        """Open the speaker for audio at ``rate_hz``; reopening closes the old stream.

        Blocks while PortAudio opens the device; re-scans devices after a
        failure like `SoundDeviceSource.open`.
        """
        self.close()
        with self._lock:
            if self._needs_rescan:
                rescan()
                self._needs_rescan = False
            try:
                playback = self._start(rate_hz)
            except AudioError:
                if not rescan():
                    raise
                playback = self._start(rate_hz)
            stream_opened()
            self._playback = self._last = playback
            log.info("speaker %r open at %d Hz", playback.name, playback.rate_hz)

    def _start(self, rate_hz: int) -> _Playback:
        sd = sounddevice()
        device = find_device(self._config.output_device, "output")
        info = device_info(device, "output")
        rates = list(dict.fromkeys([rate_hz, int(info["default_samplerate"])]))
        for rate in rates:
            block = max(1, rate * self._config.block_ms // 1000)
            max_blocks = max(2, self._max_queue_ms // self._config.block_ms)
            playback = _Playback(queue.Queue(max_blocks), rate, rate_hz, block, info["name"])
            try:
                playback.stream = sd.OutputStream(
                    device=device,
                    samplerate=rate,
                    channels=1,
                    dtype="int16",
                    blocksize=block,
                    latency="low",
                    callback=self._make_callback(playback),
                    finished_callback=self._make_finished(playback),
                )
                playback.stream.start()
                return playback
            except sd.PortAudioError as exc:
                close_quietly(playback.stream)
                # Hardware devices (hw:) may refuse the voice's rate; use theirs and resample.
                if error_code(exc) == PA_INVALID_SAMPLE_RATE and rate != rates[-1]:
                    continue
                raise AudioError(
                    f"speaker {info['name']!r}: cannot open it at {rate} Hz ({exc}); "
                    "check it is connected, or set audio.output_device (see `assistant devices`)"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _make_callback(pb: _Playback) -> Any:
        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if pb.flush:
                pb.pending = None
                pb.flush = False
            filled = 0
            while filled < frames:
                if pb.pending is None:
                    try:
                        pb.pending = pb.blocks.get_nowait()
                    except queue.Empty:
                        break
                take = min(frames - filled, len(pb.pending))
                outdata[filled : filled + take, 0] = pb.pending[:take]
                pb.pending = pb.pending[take:] if take < len(pb.pending) else None
                filled += take
            outdata[filled:] = 0
            pb.played += filled
            if filled < frames:
                pb.idle.set()

        return callback

    @staticmethod
    def _make_finished(pb: _Playback) -> Any:
        def finished() -> None:
            if not pb.closing:
                pb.failure = "the playback stream stopped (device unplugged or failed)"
            pb.idle.set()
            pb.stopped.set()

        return finished

    def _check(self, pb: _Playback | None) -> _Playback:
        if pb is None:
            raise AudioError("speaker is not open; call open() first")
        if pb.failure:
            self._needs_rescan = True
            raise AudioError(
                f"speaker {pb.name!r}: {pb.failure}; check the connection, "
                "then the assistant reopens it on the next reply"
            )
        return pb

    def write(self, chunk: AudioChunk, cancel: threading.Event | None = None) -> None:
        """Queue ``chunk`` for playback; blocks while the queue is full.

        Returns early when ``cancel`` is set or `stop` is called meanwhile.
        Resamples when ``chunk.rate_hz`` differs from the stream; applies no gain.
        """
        pb = self._check(self._playback)
        generation = pb.generation
        samples = chunk.samples
        if chunk.rate_hz != pb.rate_hz:
            samples = resample(samples, chunk.rate_hz, pb.rate_hz)
        for start in range(0, len(samples), pb.block_frames):
            block = samples[start : start + pb.block_frames]
            while True:
                if (cancel is not None and cancel.is_set()) or pb.generation != generation:
                    return
                self._check(pb)
                pb.idle.clear()
                try:
                    # A short timeout so cancel and stop() are noticed promptly.
                    pb.blocks.put(block, timeout=0.02)
                except queue.Full:
                    if not pb.closing and not is_active(pb.stream):
                        pb.failure = pb.failure or "the playback stream is no longer running"
                    continue
                if pb.generation != generation:  # stop() ran while this put waited
                    pb.clear()
                    return
                break

    def played_frames(self) -> int:
        """Frames handed to the device since `open`, at the rate given to `open`."""
        pb = self._last
        if pb is None:
            return 0
        return round(pb.played * pb.open_rate_hz / pb.rate_hz)

    def drain(self, timeout_s: float) -> bool:
        """Wait until all queued audio was handed to the device and had time
        to play out; True if done within ``timeout_s``."""
        pb = self._check(self._playback)
        deadline = time.monotonic() + timeout_s
        while pb.pending is not None or not pb.blocks.empty():
            self._check(pb)
            pb.idle.clear()
            if pb.pending is None and pb.blocks.empty():
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 or pb.stopped.is_set():
                return False
            pb.idle.wait(remaining)
        self._check(pb)
        # The device still holds up to its output latency of audio.
        latency = float(stream_attr(pb.stream, "latency", 0.0))
        pb.stopped.wait(min(latency, max(0.0, deadline - time.monotonic())))
        return True

    def stop(self) -> None:
        """Cut playback now: drop queued audio and make pending writes return."""
        pb = self._playback
        if pb is None:
            return
        pb.generation += 1
        pb.clear()
        pb.flush = True
        pb.idle.set()

    def close(self) -> None:
        """Stop and release the device. Idempotent."""
        with self._lock:
            pb, self._playback = self._playback, None
            if pb is None:
                return
            pb.generation += 1
            pb.closing = True
            pb.clear()
            close_quietly(pb.stream)
            stream_closed()
            pb.stopped.set()
            pb.idle.set()
