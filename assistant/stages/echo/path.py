"""`EchoPath`: one microphone cleaned of what one speaker played.

The speaker's thread hands over what went to the DAC (`play`), the mic's
thread hands over each captured block (`capture`). Both carry a timestamp
in one clock (PortAudio's stream time), which places them on one timeline;
what the timestamps miss (the room, buffers they do not count, two sound
cards' clocks drifting apart) is measured here by cross-correlation every
second while the speaker plays, and followed as a line (offset and drift).
The reference is then read at that fractional position and speexdsp
cancels it. Nothing is cancelled, and the mic passes untouched, while
nothing was played for a while.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import numpy as np

from assistant.stages.echo.align import DelayTrack, gcc_phat, read_fractional
from assistant.stages.echo.speex import SpeexCanceller
from assistant.stages.echo.webrtc import WebRtcCanceller

log = logging.getLogger(__name__)

FRAME_S = 0.01
"""The canceller's frame: 10 ms (WebRTC's AEC3 takes no other)."""
LEAD_S = 0.02
"""The reference is fed this much ahead of its echo, so a delay estimate a
little too long (or jitter) still leaves the echo inside the filter."""
WINDOW_S = 1.5
"""Mic audio correlated for one delay estimate, in seconds."""
FIRST_WINDOW_S = 0.5
"""The first estimate comes once this much audio with a reference is in."""
EVERY_S = 1.0
"""How often the delay is measured again while the speaker plays."""
REANCHOR_S = 0.02
"""A timestamp further than this from where the stream's samples say it
should be is a gap (or an overrun): the timeline starts again from it."""
ERLE_S = 2.0
"""Time constant of the recent ERLE average."""
MAX_REFERENCE_S = 120.0
"""Most reference kept when nothing captures (no mic): older samples go."""


@dataclass(frozen=True)
class EchoStats:
    """How well the canceller is doing, for logs, ``doctor`` and the CLI."""

    delay_ms: float
    """Echo delay found beyond the timestamps, in milliseconds (NaN: none yet)."""
    erle_db: float
    """Echo return loss enhancement over the recent frames with a reference,
    in dB: mic power over output power (NaN: none yet). Near-end speech
    lowers it, so it is a lower bound while the user talks."""
    drift_ppm: float
    """The speaker's clock against the mic's, parts per million (positive:
    the speaker runs fast); 0 until a few seconds of estimates span it."""
    frames: int
    """Frames (10 ms) cancelled against a reference so far."""


class EchoPath:
    """Streaming echo cancellation of one microphone against what one speaker played.

    ``max_delay_s`` bounds the delay search (beyond the timestamps);
    ``tail_s`` is the longest echo (reverberation) the filter models;
    ``suppress`` runs speex's residual echo suppressor after the linear
    filter, ``denoise`` its noise suppressor too; ``engine`` "webrtc" puts
    WebRTC's AEC3 (``pywebrtc-audio``) in speexdsp's place. `play` may be called
    from any thread; `capture` from one thread at a time (it may take a few
    milliseconds once a second, for the delay search: not in a PortAudio
    callback). Whoever builds it closes it.
    """

    def __init__(
        self,
        rate: int = 16000,
        *,
        max_delay_s: float = 0.3,
        tail_s: float = 0.2,
        suppress: bool = True,
        denoise: bool = False,
        engine: str = "speex",
    ) -> None:
        self.rate = rate
        self.frame = round(rate * FRAME_S)
        self._max_lag = int(max_delay_s * rate)
        self._lead = LEAD_S * rate
        self._hold_s = max_delay_s + tail_s + LEAD_S
        kernel = {"speex": SpeexCanceller, "webrtc": WebRtcCanceller}.get(engine)
        if kernel is None:
            raise ValueError(f"echo engine {engine!r}: expected 'speex' or 'webrtc'")
        self._canceller = kernel(
            rate, self.frame, int((tail_s + LEAD_S) * rate), suppress=suppress, denoise=denoise
        )
        self._lock = threading.Lock()
        # The reference timeline (under _lock): sample i plays at ref_t0 + i / rate.
        self._ref = np.zeros(0, np.float32)
        self._ref_start = 0  # timeline index of _ref[0]
        self._ref_t0: float | None = None
        self._played_until = -math.inf
        # The mic timeline (capture's thread only).
        self._mic_t0: float | None = None
        self._mic_n = 0  # samples received
        self._frame_index = 0  # samples cancelled (or passed) so far
        self._inbox = np.zeros(0, np.int16)
        self._outbox = np.zeros(0, np.int16)
        self._history = np.zeros(int(WINDOW_S * rate), np.float32)
        self._heard = 0  # mic samples with a reference since the last estimate window began
        self._since_estimate = 0
        self._track = DelayTrack()
        self._power_in = self._power_out = 0.0
        self._frames = 0
        self._active = False
        self._closed = False

    # -- the speaker's side ---------------------------------------------------------

    def play(self, samples: np.ndarray, dac_time: float) -> None:
        """Thread-safe. ``samples``: mono int16 at `rate`, exactly what went
        to the DAC; ``dac_time``: when its first sample reaches the DAC
        (seconds, the PortAudio stream clock / `time.monotonic` domain)."""
        data = np.asarray(samples, np.int16).ravel().astype(np.float32)
        if len(data) == 0:
            return
        with self._lock:
            if self._ref_t0 is None:
                self._ref_t0 = dac_time
            end = self._ref_start + len(self._ref)
            gap = dac_time - (self._ref_t0 + end / self.rate)
            if REANCHOR_S < gap < self._hold_s + WINDOW_S:
                self._ref = np.concatenate(
                    [self._ref, np.zeros(round(gap * self.rate), np.float32)]
                )
            elif abs(gap) > REANCHOR_S:
                # A long pause (or a clock step): the old samples are no
                # longer needed, so the timeline simply restarts here.
                self._ref_t0 = dac_time - end / self.rate
            self._ref = np.concatenate([self._ref, data])
            if len(self._ref) > MAX_REFERENCE_S * self.rate:
                self._trim(self._ref_start + len(self._ref) - MAX_REFERENCE_S * self.rate / 2)
            self._played_until = max(self._played_until, dac_time + len(data) / self.rate)

    # -- the mic's side -------------------------------------------------------------

    def capture(self, samples: np.ndarray, adc_time: float) -> np.ndarray:
        """Mic block (mono int16 at `rate`, any length) whose first sample
        was captured at ``adc_time``; returns the cleaned block, same length.
        Blocks that are not whole 10 ms frames are delayed by less than a
        frame; while cancelling, speex's suppressor adds one frame (10 ms;
        WebRTC's AEC3 8 ms)."""
        block = np.asarray(samples, np.int16).ravel()
        expected = None if self._mic_t0 is None else self._mic_t0 + self._mic_n / self.rate
        if expected is None or abs(adc_time - expected) > REANCHOR_S:
            self._mic_t0 = adc_time - self._mic_n / self.rate
        self._mic_n += len(block)
        self._inbox = np.concatenate([self._inbox, block])
        whole = len(self._inbox) // self.frame * self.frame
        done = [
            self._one_frame(self._inbox[i : i + self.frame]) for i in range(0, whole, self.frame)
        ]
        self._inbox = self._inbox[whole:]
        self._outbox = np.concatenate([self._outbox, *done])
        if len(self._outbox) < len(block):  # a part frame waits for the next block
            self._outbox = np.concatenate(
                [np.zeros(len(block) - len(self._outbox), np.int16), self._outbox]
            )
        out, self._outbox = self._outbox[: len(block)], self._outbox[len(block) :]
        return out

    def _one_frame(self, mic: np.ndarray) -> np.ndarray:
        at = self._frame_index  # mic timeline index of this frame's first sample
        self._frame_index += self.frame
        self._history = np.concatenate([self._history[self.frame :], mic.astype(np.float32)])
        t = self._mic_t0 + at / self.rate
        with self._lock:
            self._active = t < self._played_until + self._hold_s and self._ref_t0 is not None
            nominal = 0.0 if self._ref_t0 is None else (t - self._ref_t0) * self.rate
        if not self._active:
            self._heard = self._since_estimate = 0
            return mic
        self._heard += self.frame
        self._since_estimate += self.frame
        first = not self._track.points and self._heard >= FIRST_WINDOW_S * self.rate
        if first or self._since_estimate >= EVERY_S * self.rate:
            self._estimate(at + self.frame, nominal + self.frame)
        if not self._track.points:
            return mic
        delay = self._track.predict(at)
        positions = nominal - delay + self._lead + np.arange(self.frame) * (1.0 - self._track.slope)
        with self._lock:
            reference = read_fractional(self._ref, positions - self._ref_start)
            self._trim(nominal - delay - self._max_lag - WINDOW_S * self.rate)
        reference = np.clip(np.rint(reference), -32768, 32767).astype(np.int16)
        out = self._canceller.process(mic, reference)
        self._frames += 1
        alpha = self.frame / (ERLE_S * self.rate)
        self._power_in += alpha * (float(np.mean(mic.astype(np.float64) ** 2)) - self._power_in)
        self._power_out += alpha * (float(np.mean(out.astype(np.float64) ** 2)) - self._power_out)
        return out

    def _estimate(self, end: int, nominal_end: float) -> None:
        """Measure the delay over the last window of mic audio ending at
        timeline index ``end`` (reference position ``nominal_end``)."""
        self._since_estimate = 0
        size = int(min(self._heard, WINDOW_S * self.rate))
        mic = self._history[-size:]
        start = nominal_end - size
        first = math.floor(start)
        with self._lock:
            lo = first - self._max_lag - self._ref_start
            reference = self._ref[max(lo, 0) : max(lo + size + self._max_lag, 0)]
            if lo < 0:
                reference = np.concatenate(
                    [np.zeros(min(-lo, size + self._max_lag), np.float32), reference]
                )
        if len(reference) < size + self._max_lag or not np.any(reference):
            return
        found = gcc_phat(mic, reference, self._max_lag)
        if found is None:
            return
        delay = found[0] + (start - first)
        if self._track.add(end - size // 2, delay):
            log.info("echo delay moved to %.1f ms; re-converging", delay / self.rate * 1000)
            self._canceller.reset()

    def _trim(self, keep_from: float) -> None:
        """Drop reference samples before timeline index ``keep_from`` (under _lock)."""
        drop = int(keep_from) - self._ref_start
        if drop > 4 * self.rate:  # in big steps: copying is the cost
            self._ref = self._ref[drop:]
            self._ref_start += drop

    # -- state ----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while a reference is being cancelled (as of the last captured frame)."""
        return self._active and bool(self._track.points)

    def stats(self) -> EchoStats:
        """Delay, recent ERLE, drift and frames cancelled so far."""
        delay = self._track.predict(self._frame_index)
        erle = (
            10 * math.log10(max(self._power_in, 1e-9) / max(self._power_out, 1e-9))
            if self._frames
            else float("nan")
        )
        return EchoStats(
            delay_ms=round(delay / self.rate * 1000, 2) if self._track.points else float("nan"),
            erle_db=round(erle, 2),
            drift_ppm=round(-self._track.slope * 1e6, 1),
            frames=self._frames,
        )

    @property
    def delay_moves(self) -> int:
        """How many times the delay moved and was found again."""
        return self._track.moves

    def close(self) -> None:
        """Free the canceller. Idempotent."""
        self._canceller.close()
