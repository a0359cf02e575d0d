"""What the echo canceller needs from the sound card: the samples that went
to the DAC and when, and when each microphone block was captured.

- `TappedSoundDeviceSink` is the PortAudio speaker whose output callback
  also hands the block it just gave the device (after volume, resampling
  and earcons: exactly what the DAC plays) to a `ReferenceTap`, with
  PortAudio's ``outputBufferDacTime``.
- `TimedSoundDeviceSource` is the PortAudio microphone whose blocks carry
  PortAudio's ``inputBufferAdcTime`` (`read_timed`).

Both streams are callback streams (see `speaker` and `mic`), so the times
come from the callbacks' time info: PortAudio's stream clock, which on ALSA
is CLOCK_MONOTONIC (``time.monotonic``'s domain), the same for both streams.
The callbacks only copy and queue; resampling to the microphone's rate and
smoothing the times happen on the microphone reader's thread (`take`).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import numpy as np

from assistant.core.config import AudioConfig
from assistant.stages.audio.mic import SoundDeviceSource
from assistant.stages.audio.pcm import ASR_RATE_HZ
from assistant.stages.audio.speaker import SoundDeviceSink

_TAIL_BLOCKS = 20
"""Silent output blocks still tapped after the last sound, so the end of a
reply's echo is cancelled too; after that, silence is not tapped at all."""
_MAX_QUEUED = 1000
"""About 30 s of 30 ms blocks: a tap nobody takes from (no wake listener
reads the microphone between turns) stops growing."""


class StreamClock:
    """Sample-exact times for a stream from PortAudio's per-block times.

    A block's reported time can be late (a callback run in a burst, on a
    loaded machine or a device that delivers whole periods), never early,
    so the stream's start is the earliest ``time - frames_before / rate``
    seen. It may rise slowly (``leak_ppm``), so a device clock slower than
    nominal is followed, and jumps when a block comes much later than the
    stream's own count says (``gap_s``: blocks were dropped or the device
    stalled). Not thread-safe: one thread stamps. A new run of samples
    (a reopened stream, skipped silence) gets a new clock.
    """

    def __init__(self, rate_hz: int, *, leak_ppm: float = 300.0, gap_s: float = 0.1) -> None:
        self.rate_hz = rate_hz
        self._leak = leak_ppm * 1e-6
        self._gap_s = gap_s
        self._start: float | None = None
        self._frames = 0

    @property
    def start_s(self) -> float:
        """The smoothed time of the run's first frame (0 before any block)."""
        return self._start or 0.0

    def stamp(self, frames: int, reported_s: float) -> float:
        """The time of the first of ``frames`` frames that follow the last
        stamped block, reported at ``reported_s``; returns the smoothed time."""
        offset = self._frames / self.rate_hz
        start = reported_s - offset
        if self._start is None or start > self._start + self._gap_s:
            self._start = start
        else:
            self._start = min(self._start + self._leak * frames / self.rate_hz, start)
        self._frames += frames
        return self._start + offset


class _Run:
    """One run of a stream's audio, converted from ``in_hz`` to ``out_hz``:
    when each converted piece starts, on the smoothed clock of the input."""

    def __init__(self, in_hz: int, out_hz: int) -> None:
        self.in_hz, self.out_hz = in_hz, out_hz
        self.clock = StreamClock(in_hz)
        self.out_frames = 0

    def place(self, in_frames: int, reported_s: float, out_frames: int) -> float:
        """``in_frames`` reported at ``reported_s`` became ``out_frames``
        (a resampler may hold some back); the time of the first of those."""
        self.clock.stamp(in_frames, reported_s)
        at_s = self.clock.start_s + self.out_frames / self.out_hz
        self.out_frames += out_frames
        return at_s


class _Resampled(_Run):
    """A `_Run` that resamples too (soxr, streaming)."""

    def __init__(self, in_hz: int, out_hz: int) -> None:
        super().__init__(in_hz, out_hz)
        self._stream: Any = None
        if in_hz != out_hz:
            import soxr

            self._stream = soxr.ResampleStream(in_hz, out_hz, 1, dtype="int16", quality="HQ")

    def convert(self, samples: np.ndarray, reported_s: float) -> tuple[np.ndarray, float]:
        """``samples`` at ``in_hz`` reported at ``reported_s`` -> (samples at
        ``out_hz``, time of their first sample); possibly empty."""
        out = samples if self._stream is None else self._stream.resample_chunk(samples)
        return out, self.place(len(samples), reported_s, len(out))


class ReferenceTap:
    """What the speaker played, for the echo canceller.

    `put` is called by the output callback (PortAudio's thread): it copies
    the block and returns, never blocks. `take` is called by one reader
    thread (the microphone's): it returns the played audio since the last
    call, mono int16 resampled to the rate asked for, each piece with the
    time its first sample reached the DAC.
    """

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[np.ndarray, float, int, int]] = collections.deque(
            maxlen=_MAX_QUEUED
        )
        self._quiet = _TAIL_BLOCKS + 1
        self._run = 0
        self._taken_run = -1
        self._resampled: _Resampled | None = None
        self.blocks = 0
        """Blocks tapped since creation (for tests and stats)."""

    def put(self, block: np.ndarray, dac_time_s: float, rate_hz: int) -> None:
        """From the output callback: ``block`` (mono int16 at ``rate_hz``) has
        just been handed to the device and reaches the DAC at ``dac_time_s``."""
        if block.any():
            self._quiet = 0
        else:
            self._quiet += 1
            if self._quiet > _TAIL_BLOCKS:
                if self._quiet == _TAIL_BLOCKS + 1:
                    self._run += 1  # the next sound starts a new run
                return
        self.blocks += 1
        self._queue.append((block.copy(), dac_time_s, rate_hz, self._run))

    def reset(self) -> None:
        """The stream was reopened: what follows is a new run."""
        self._run += 1

    def take(self, rate_hz: int) -> list[tuple[np.ndarray, float]]:
        """From the reader thread: (samples at ``rate_hz``, DAC time of the
        first) for everything tapped since the last call, oldest first."""
        pieces = []
        while self._queue:
            block, dac_time_s, block_rate, run = self._queue.popleft()
            resampled = self._resampled
            if (
                resampled is None
                or run != self._taken_run
                or resampled.in_hz != block_rate
                or resampled.out_hz != rate_hz
            ):
                resampled = self._resampled = _Resampled(block_rate, rate_hz)
                self._taken_run = run
            out, at_s = resampled.convert(block, dac_time_s)
            if len(out):
                pieces.append((out, at_s))
        return pieces


class TappedSoundDeviceSink(SoundDeviceSink):
    """The PortAudio speaker (`SoundDeviceSink`), and every block its output
    callback gives the device also goes to ``tap`` with its DAC time."""

    def __init__(self, config: AudioConfig, tap: ReferenceTap, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.tap = tap

    def open(self, rate_hz: int) -> None:
        self.tap.reset()  # before the new stream's first callback
        super().open(rate_hz)

    def _make_callback(self, pb: Any) -> Any:
        play = SoundDeviceSink._make_callback(pb)
        tap = self.tap

        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            play(outdata, frames, time_info, status)
            tap.put(outdata[:, 0], time_info.outputBufferDacTime, pb.rate_hz)

        return callback


class TimedSoundDeviceSource(SoundDeviceSource):
    """The PortAudio microphone (`SoundDeviceSource`), whose `read_timed`
    also says when each block's first sample was captured (``adc_time``, on
    the stream clock, smoothed by a `StreamClock`). One reader thread."""

    def __init__(self, config: AudioConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._timing: _Run | None = None
        self._timed_capture: Any = None
        self._block_time_s = 0.0
        self._restart = threading.Event()

    @staticmethod
    def _make_callback(capture: Any) -> Any:
        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status.input_overflow:
                capture.overflows += 1
            capture.put((indata.copy(), time_info.inputBufferAdcTime))

        return callback

    def _convert(self, capture: Any, item: Any) -> np.ndarray:
        block, adc_time_s = item
        if capture is not self._timed_capture or self._restart.is_set():
            # A new stream, or queued audio was dropped: a new run of samples.
            self._restart.clear()
            self._timed_capture = capture
            self._timing = _Run(capture.rate_hz, ASR_RATE_HZ)
        out = super()._convert(capture, block)
        self._block_time_s = self._timing.place(len(block), adc_time_s, len(out))
        return out

    def discard(self) -> None:
        super().discard()
        self._restart.set()

    def read_timed(self, timeout_s: float) -> tuple[np.ndarray, float] | None:
        """Like `read`, with the capture time of the block's first sample
        (seconds, PortAudio's stream clock)."""
        block = self.read(timeout_s)
        if block is None:
            return None
        return block, self._block_time_s
