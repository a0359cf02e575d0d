"""`SoundDeviceSource`: the PortAudio microphone, an `AudioSource`.

PortAudio calls the stream callback on its own thread. It only copies each
block into a bounded queue (dropping the oldest when full): it never blocks,
resamples or logs. Converting to mono and resampling to 16 kHz happen on the
reader's thread, in `read`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.core.config import AudioConfig
from assistant.core.errors import AudioError
from assistant.stages.audio.devices import device_info, find_device
from assistant.stages.audio.pcm import ASR_RATE_HZ, to_mono_int16
from assistant.stages.audio.portaudio import (
    PA_INVALID_CHANNEL_COUNT,
    close_quietly,
    error_code,
    is_active,
    rescan,
    sounddevice,
    stream_closed,
    stream_opened,
)

log = logging.getLogger(__name__)

_WAKE = object()  # queued to wake a blocked `read` after close or failure


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
    dropped and counted in `dropped_blocks`. One reader thread calls `read`;
    `discard` and `close` may be called from any thread. The owner closes it.
    """

    sample_rate_hz = ASR_RATE_HZ
    exhausted = False
    """A microphone never runs out: always False."""

    def __init__(self, config: AudioConfig, *, max_queue_s: float = 2.0):
        self._config = config
        self._max_queue_s = max_queue_s
        self._capture: _Capture | None = None
        self._resampler: Any = None
        self._needs_rescan = False
        self._lock = threading.Lock()

    @property
    def dropped_blocks(self) -> int:
        """Blocks dropped because the reader fell behind, since `open`."""
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
        sd = sounddevice()
        device = find_device(self._config.input_device, "input")
        info = device_info(device, "input")
        rate = self._config.input_rate_hz or int(info["default_samplerate"])
        block = max(1, rate * self._config.block_ms // 1000)
        max_blocks = max(2, int(self._max_queue_s * 1000 / self._config.block_ms))
        capture = _Capture(queue.Queue(max_blocks), rate, info["name"])
        # Mono first; some microphones only open with 2 channels (a stereo USB
        # mic, the ReSpeaker 2-mic HAT) or all of theirs (mic arrays): take
        # them all and mix down in `_convert`.
        widths = iter(sorted({2, int(info.get("max_input_channels") or 2)} - {1}))
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
                close_quietly(capture.stream)
                capture.stream = None
                if error_code(exc) == PA_INVALID_CHANNEL_COUNT:
                    channels = next(widths, 0)
                    if channels:
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
                if not capture.closing and not is_active(capture.stream):
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
        # int16 frames x channels, as opened in `_start`: channels are averaged.
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
            close_quietly(capture.stream)
            stream_closed()
            capture.put(_WAKE)
            if capture.dropped_blocks:
                log.info("microphone dropped %d blocks (reader too slow)", capture.dropped_blocks)
