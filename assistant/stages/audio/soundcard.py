"""Microphone and speaker: the `AudioSource` and `AudioSink` protocols and
their PortAudio (sounddevice) and WAV-file implementations.

PortAudio calls the stream callbacks on its own thread. They only copy blocks
into or out of a bounded queue: they never block, resample or log. Resampling
happens on the caller's thread in `read` / `write`.

Device lookup (`find_device`, `list_devices`, `have_output_device`) and the
WAV-file stand-ins (`WavFileSink`, `WavFileSource`) live in
`assistant.stages.audio.devices` and are re-exported here: import them from this module.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.core.config import AudioConfig
from assistant.core.errors import AudioError
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.audio.devices import (
    WavFileSink,
    WavFileSource,
    device_info,
    find_device,
    have_input_device,
    have_output_device,
    list_devices,
    portaudio,
    rescan,
    stream_closed,
    stream_opened,
)
from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk, resample, to_mono_int16

__all__ = [
    "AudioSink",
    "AudioSource",
    "SoundDeviceSink",
    "SoundDeviceSource",
    "WavFileSink",
    "WavFileSource",
    "find_device",
    "have_input_device",
    "have_output_device",
    "list_devices",
]

log = logging.getLogger(__name__)

_PA_INVALID_CHANNEL_COUNT = -9998
_PA_INVALID_SAMPLE_RATE = -9997
_WAKE = object()  # queued to wake a blocked `read` after close or failure


def _pa_code(exc: Exception) -> int | None:
    args = getattr(exc, "args", ())
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


@dataclass
class _Capture:
    """State of one open input stream; a new one per `open`, so callbacks of
    an old stream cannot touch a reopened one."""

    blocks: queue.Queue
    rate_hz: int
    name: str
    stream: Any = None
    closing: bool = False
    failure: str | None = None
    dropped_blocks: int = 0
    overflows: int = 0
    reset_resampler: bool = True

    def put(self, item: Any) -> None:
        """Queue an item without blocking, dropping the oldest block if full."""
        while True:
            try:
                self.blocks.put_nowait(item)
                return
            except queue.Full:
                try:
                    self.blocks.get_nowait()
                    self.dropped_blocks += 1
                except queue.Empty:
                    pass


class SoundDeviceSource:
    """PortAudio microphone, mono int16 at 16 kHz.

    Captures at ``config.input_rate_hz`` (0: the device's native rate) in
    blocks of ``config.block_ms`` and resamples with soxr in `read`. When the
    reader falls behind by more than ``max_queue_s`` the oldest blocks are
    dropped and counted in `dropped_blocks`.
    """

    sample_rate_hz = ASR_RATE_HZ

    def __init__(self, config: AudioConfig, *, max_queue_s: float = 2.0):
        self._config = config
        self._max_queue_s = max_queue_s
        self._capture: _Capture | None = None
        self._resampler: Any = None
        self._needs_rescan = False
        self._lock = threading.Lock()

    @property
    def dropped_blocks(self) -> int:
        capture = self._capture
        return capture.dropped_blocks if capture else 0

    def open(self) -> None:
        """Start capture; `AudioError` naming the device and the fix if it cannot.

        Blocks while PortAudio opens the device. After a device failure, or
        when opening fails, the device list is re-scanned first (a replugged
        USB microphone may have a new index). Opening an open source does nothing.
        """
        with self._lock:
            if self._capture is not None:
                return
            if self._needs_rescan:
                rescan()
                self._needs_rescan = False
            try:
                capture = self._start()
            except AudioError:
                if not rescan():
                    raise
                capture = self._start()
            stream_opened()
            self._capture = capture
            log.info(
                "microphone %r open at %d Hz, %d ms blocks",
                capture.name,
                capture.rate_hz,
                self._config.block_ms,
            )

    def _start(self) -> _Capture:
        sd = portaudio()
        device = find_device(self._config.input_device, "input")
        info = device_info(device, "input")
        rate = self._config.input_rate_hz or int(info["default_samplerate"])
        block = max(1, rate * self._config.block_ms // 1000)
        max_blocks = max(2, int(self._max_queue_s * 1000 / self._config.block_ms))
        capture = _Capture(queue.Queue(max_blocks), rate, info["name"])
        channels = 1
        while True:
            try:
                capture.stream = sd.InputStream(
                    device=device,
                    samplerate=rate,
                    channels=channels,
                    dtype="int16",
                    blocksize=block,
                    callback=self._make_callback(capture),
                    finished_callback=self._make_finished(capture),
                )
                capture.stream.start()
                return capture
            except sd.PortAudioError as exc:
                _close_quietly(capture.stream)
                capture.stream = None
                # Some USB microphones only offer stereo; take two and mix down.
                if _pa_code(exc) == _PA_INVALID_CHANNEL_COUNT and channels == 1:
                    channels = 2
                    continue
                raise AudioError(
                    f"microphone {info['name']!r}: cannot open it at {rate} Hz ({exc}); "
                    "check it is connected, or set audio.input_device (see `assistant devices`) "
                    "or audio.input_rate_hz"
                ) from None

    @staticmethod
    def _make_callback(capture: _Capture) -> Any:
        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status.input_overflow:
                capture.overflows += 1
            capture.put(indata.copy())

        return callback

    @staticmethod
    def _make_finished(capture: _Capture) -> Any:
        def finished() -> None:
            if not capture.closing:
                capture.failure = "the capture stream stopped (device unplugged or failed)"
                capture.put(_WAKE)

        return finished

    def read(self, timeout_s: float) -> np.ndarray | None:
        """Next block of mono int16 at 16 kHz; None on timeout or once closed.

        Blocks up to ``timeout_s``. Raises `AudioError` if the device failed;
        `close` then `open` recovers.
        """
        capture = self._capture
        if capture is None:
            return None
        deadline = time.monotonic() + timeout_s
        while True:
            self._raise_if_failed(capture)
            try:
                item = capture.blocks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if not capture.closing and not _is_active(capture.stream):
                    capture.failure = capture.failure or "the capture stream is no longer running"
                    self._raise_if_failed(capture)
                return None
            if item is _WAKE:
                if capture.closing:
                    return None
                continue
            block = self._convert(capture, item)
            if len(block):
                return block

    def _raise_if_failed(self, capture: _Capture) -> None:
        if capture.failure and not capture.closing:
            self._needs_rescan = True
            raise AudioError(
                f"microphone {capture.name!r}: {capture.failure}; check the connection, "
                "then the assistant reopens it on the next turn"
            )

    def _convert(self, capture: _Capture, block: np.ndarray) -> np.ndarray:
        mono = to_mono_int16(block)
        if capture.rate_hz == ASR_RATE_HZ:
            return mono
        if capture.reset_resampler or self._resampler is None:
            import soxr

            self._resampler = soxr.ResampleStream(
                capture.rate_hz, ASR_RATE_HZ, 1, dtype="int16", quality="HQ"
            )
            capture.reset_resampler = False
        return self._resampler.resample_chunk(mono)

    def discard(self) -> None:
        """Drop queued audio, e.g. what was captured while the assistant spoke."""
        capture = self._capture
        if capture is None:
            return
        while True:
            try:
                capture.blocks.get_nowait()
            except queue.Empty:
                break
        capture.reset_resampler = True

    def close(self) -> None:
        """Stop capture and release the device. Idempotent; wakes a blocked `read`."""
        with self._lock:
            capture, self._capture = self._capture, None
            if capture is None:
                return
            capture.closing = True
            _close_quietly(capture.stream)
            stream_closed()
            capture.put(_WAKE)
            if capture.dropped_blocks:
                log.info("microphone dropped %d blocks (reader too slow)", capture.dropped_blocks)


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
    """

    def __init__(self, config: AudioConfig, *, max_queue_ms: int = 120):
        self._config = config
        self._max_queue_ms = max_queue_ms
        self._playback: _Playback | None = None
        self._last: _Playback | None = None
        self._needs_rescan = False
        self._lock = threading.Lock()

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
        sd = portaudio()
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
                _close_quietly(playback.stream)
                # Hardware devices (hw:) may refuse the voice's rate; use theirs and resample.
                if _pa_code(exc) == _PA_INVALID_SAMPLE_RATE and rate != rates[-1]:
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
                    if not pb.closing and not _is_active(pb.stream):
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
        latency = float(_attr(pb.stream, "latency", 0.0))
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
            _close_quietly(pb.stream)
            stream_closed()
            pb.stopped.set()
            pb.idle.set()


def _attr(stream: Any, name: str, default: Any) -> Any:
    try:
        return getattr(stream, name)
    except Exception:
        return default


def _is_active(stream: Any) -> bool:
    return bool(_attr(stream, "active", False))


def _close_quietly(stream: Any) -> None:
    if stream is None:
        return
    try:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
    except Exception:  # the device may already be gone; nothing left to release
        log.debug("closing a failed stream raised", exc_info=True)
