"""The echo canceller on the sound card: `EchoCancellingSource`, the
microphone with what the speaker played taken out, and `measure_room`,
what ``assistant doctor --echo`` measures.

The composition root shares one `ReferenceTap` between the speaker (a
`TappedSoundDeviceSink`) and this source, over a `TimedSoundDeviceSource`.
On each `read`, on the reader's thread (the wake thread), the audio the
speaker played since the last read goes to `EchoPath.play` with its DAC
times, then the block goes through `EchoPath.capture` with its ADC time.
Everything the speaker plays is tapped before it reaches the DAC, so the
reference is always ahead of its echo.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.core.errors import AudioError
from assistant.stages.audio.base import AudioSink
from assistant.stages.audio.pcm import AudioChunk, rms_dbfs
from assistant.stages.audio.reference import ReferenceTap
from assistant.stages.echo import EchoPath, EchoStats, cancel_offline

log = logging.getLogger(__name__)


class TimedSource(Protocol):
    """A microphone whose blocks carry their capture time
    (`reference.TimedSoundDeviceSource`); otherwise an `AudioSource`."""

    sample_rate_hz: int
    exhausted: bool

    def open(self) -> None: ...

    def read_timed(self, timeout_s: float) -> tuple[np.ndarray, float] | None: ...

    def discard(self) -> None: ...

    def close(self) -> None: ...


class EchoCancellingSource:
    """An `AudioSource`: ``mic`` with the echo of what ``tap`` saw played
    removed by ``path``. Same threading as the microphone: one reader
    thread calls `read`; `discard` and `close` from any thread. `close`
    closes the microphone only (it may be reopened); `shutdown` also closes
    the canceller. The owner calls `shutdown` once nothing reads any more."""

    exhausted = False
    """A microphone never runs out: always False."""

    def __init__(self, mic: TimedSource, tap: ReferenceTap, path: EchoPath) -> None:
        self.mic = mic
        self.tap = tap
        self.path = path
        self.sample_rate_hz = mic.sample_rate_hz
        self._broken = False
        self._was_active = False

    @property
    def active(self) -> bool:
        """True while a reply's echo is being cancelled."""
        return self.path.active

    def stats(self) -> EchoStats:
        return self.path.stats()

    def open(self) -> None:
        self.mic.open()

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The next cleaned block (mono int16 at `sample_rate_hz`); None on
        timeout or once closed. `AudioError` as the microphone's `read`."""
        got = self.mic.read_timed(timeout_s)
        # After the read: everything played before this block's echo is tapped.
        played = self.tap.take(self.sample_rate_hz)
        if self._broken:
            return None if got is None else got[0]
        try:
            for samples, dac_time_s in played:
                self.path.play(samples, dac_time_s)
            if got is None:
                return None
            cleaned = self.path.capture(*got)
            self._note_reply_end()
            return cleaned
        except Exception:  # a canceller bug must not make the appliance deaf
            log.exception("echo canceller failed; the microphone goes on without it")
            self._broken = True
            return None if got is None else got[0]

    def _note_reply_end(self) -> None:
        active = self.path.active
        if self._was_active and not active:
            stats = self.path.stats()
            log.debug(
                "echo cancelled: delay %.0f ms, ERLE %.1f dB, drift %.0f ppm",
                stats.delay_ms,
                stats.erle_db,
                stats.drift_ppm,
            )
        self._was_active = active

    def discard(self) -> None:
        self.mic.discard()

    def close(self) -> None:
        self.mic.close()

    def shutdown(self) -> None:
        """Close the microphone and the canceller. Idempotent."""
        self.mic.close()
        self.path.close()


# -- doctor --echo --------------------------------------------------------

SIGNAL_S = 1.5
QUIET_S = 0.3
"""Recorded before the test signal (the room's noise) and after it (the tail)."""
MIN_ERLE_DB = 10.0
"""Below this the canceller leaves too much echo for the wake word."""
_SIGNAL_DBFS = -18.0


def probe_signal(rate_hz: int, seconds: float = SIGNAL_S) -> np.ndarray:
    """A seeded noise burst (flat from ~150 Hz to ~6 kHz, like an MLS), with
    short fades: the same samples every run, mono int16 at ``rate_hz``."""
    rng = np.random.default_rng(23)
    n = int(seconds * rate_hz)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate_hz)
    spectrum[(freqs < 150) | (freqs > 6000)] = 0
    noise = np.fft.irfft(spectrum, n)
    noise *= 10 ** (_SIGNAL_DBFS / 20) * 32767 / np.sqrt(np.mean(noise**2))
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.02 * rate_hz))
    return np.clip(noise * fade, -32767, 32767).astype(np.int16)


@dataclass(frozen=True)
class RoomMeasurement:
    """What ``doctor --echo`` found; times in ms on the microphone's clock."""

    echo_at_ms: float
    """Where the test signal's echo starts in the recording."""
    played_at_ms: float
    """Where PortAudio's DAC timestamps put the signal's first sample."""
    delay_ms: float
    """The echo's delay left after the timestamps: what the canceller must find."""
    erle_db: float
    """Echo return loss enhancement over the signal's last half (NaN: no echo)."""
    echo_dbfs: float
    noise_dbfs: float
    peak: int
    """The recording's largest sample; 32767 means it clipped."""
    ok: bool
    """Whether the canceller can work in this room."""
    verdict: str
    """One line saying so, and what to change if not."""


def measure_room(
    mic: TimedSource,
    speaker: AudioSink,
    tap: ReferenceTap,
    *,
    max_delay_s: float = 0.3,
    signal_s: float = SIGNAL_S,
) -> RoomMeasurement:
    """Play `probe_signal` on ``speaker`` (whose output callback feeds
    ``tap``), record it with ``mic`` and measure the echo. Opens and closes
    both; blocks for about ``signal_s`` plus 1 s. `AudioError` if a device
    fails."""
    rate = mic.sample_rate_hz
    signal = probe_signal(rate, signal_s)
    speaker.open(rate)
    blocks: list[tuple[np.ndarray, float]] = []
    played: list[tuple[np.ndarray, float]] = []
    failed: list[Exception] = []

    def play() -> None:
        try:
            speaker.write(AudioChunk(signal, rate))
            speaker.drain(5.0)
        except Exception as exc:  # raised on the caller's thread below
            failed.append(exc)

    writer = threading.Thread(target=play, name="echo-probe", daemon=True)
    try:
        mic.open()
        got, end = 0, int((signal_s + 5.0) * rate)
        while got < end:
            block = mic.read_timed(3.0)
            if block is None:
                raise _no_audio(got)
            blocks.append(block)
            got += len(block[0])
            played += tap.take(rate)
            if writer.ident is None and got >= QUIET_S * rate:
                writer.start()  # once the room's own noise was heard
            elif writer.ident is not None and not writer.is_alive():
                end = min(end, got + int(QUIET_S * rate))  # record the echo's tail
        writer.join(timeout=5.0)
        played += tap.take(rate)
    finally:
        speaker.stop()
        mic.close()
        speaker.close()
    if failed:
        raise failed[0]
    return _analyse(blocks, played, signal, rate, max_delay_s)


def _no_audio(got: int) -> AudioError:
    return AudioError(f"the microphone gave no audio for 3 s after {got} samples")


def _analyse(
    blocks: list[tuple[np.ndarray, float]],
    played: list[tuple[np.ndarray, float]],
    signal: np.ndarray,
    rate: int,
    max_delay_s: float,
) -> RoomMeasurement:
    mic = np.concatenate([b for b, _ in blocks])
    # The microphone's first sample, by the last block's time: the stream
    # clock has settled by then (the first blocks may come in a burst).
    t0 = blocks[-1][1] - (len(mic) - len(blocks[-1][0])) / rate
    run, played_at = _played_run(played, t0)
    quiet = int(QUIET_S * rate)
    noise_dbfs = rms_dbfs(mic[: quiet // 2])
    # Where the signal is in the recording: the cross-correlation's peak.
    n = 1 << (len(mic) + len(signal)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(mic, n) * np.conj(np.fft.rfft(signal, n)), n)[: len(mic)]
    echo_at = int(np.argmax(np.abs(corr)))
    heard = np.abs(corr[echo_at]) > 8 * np.median(np.abs(corr))
    echo_dbfs = rms_dbfs(mic[echo_at : echo_at + len(signal)])
    erle = (
        _erle(mic, run if len(run) else signal, echo_at, len(signal), rate) if heard else math.nan
    )
    delay = echo_at / rate - played_at
    peak = int(np.max(np.abs(mic.astype(np.int32))))
    ok, verdict = _verdict(heard, delay, erle, peak, echo_dbfs, noise_dbfs, max_delay_s)
    return RoomMeasurement(
        echo_at_ms=round(1000 * echo_at / rate, 1),
        played_at_ms=round(1000 * float(played_at), 1),
        delay_ms=round(1000 * float(delay), 1),
        erle_db=round(float(erle), 1),
        echo_dbfs=round(float(echo_dbfs), 1),
        noise_dbfs=round(float(noise_dbfs), 1),
        peak=peak,
        ok=ok,
        verdict=verdict,
    )


def _played_run(played: list[tuple[np.ndarray, float]], t0: float) -> tuple[np.ndarray, float]:
    """What the speaker played from its first sound on, and when that first
    sound reached the DAC, in seconds after ``t0`` (NaN: nothing played)."""
    for i, (samples, at_s) in enumerate(played):
        loud = np.flatnonzero(samples)
        if len(loud):
            run = np.concatenate([samples[loud[0] :], *(s for s, _ in played[i + 1 :])])
            return run, at_s + loud[0] / _rate(played, i, samples) - t0
    return np.zeros(0, np.int16), math.nan


def _rate(played: list[tuple[np.ndarray, float]], i: int, samples: np.ndarray) -> float:
    """The pieces' rate, from their times: they are a sample apart per sample."""
    if i + 1 < len(played) and played[i + 1][1] > played[i][1]:
        return len(samples) / (played[i + 1][1] - played[i][1])
    return 16000.0


def _erle(mic: np.ndarray, run: np.ndarray, echo_at: int, length: int, rate: int) -> float:
    """The canceller's ERLE on the echo at ``echo_at``, with what the speaker
    played a little ahead of it (as the timestamps and the delay search put
    it live). The stretch is cancelled twice over and measured on the
    second pass, once the canceller has converged: the room does not
    change within seconds."""
    lead = min(echo_at, int(0.01 * rate))
    piece = mic[echo_at - lead : echo_at + length + int(0.2 * rate)]
    reference = np.zeros_like(piece)
    reference[: min(len(run), len(piece))] = run[: len(piece)]
    clean, _ = cancel_offline(np.tile(piece, 2), np.tile(reference, 2), rate)
    echo = slice(lead, min(lead + length, len(piece)))
    return 10 * math.log10(_power(piece[echo]) / max(_power(clean[len(piece) :][echo]), 1e-9))


def _power(x: np.ndarray) -> float:
    return float(np.mean(x.astype(np.float64) ** 2)) if len(x) else 0.0


def _verdict(
    heard: bool,
    delay_s: float,
    erle_db: float,
    peak: int,
    echo_dbfs: float,
    noise_dbfs: float,
    max_delay_s: float,
) -> tuple[bool, str]:
    if not heard:
        return True, (
            "the microphone does not hear the speaker: no echo to cancel "
            "(check the volume if you expected one)"
        )
    if peak >= 32767:
        return False, "the microphone clips on the speaker's sound: lower the speaker volume"
    if math.isnan(delay_s):
        return False, "PortAudio gave no DAC timestamps for the speaker: report it"
    if not 0.0 <= delay_s <= max_delay_s:
        return False, (
            f"the echo comes {1000 * delay_s:.0f} ms after PortAudio's timestamps, outside "
            f"the canceller's 0-{1000 * max_delay_s:.0f} ms: set [echo] max_delay_s"
        )
    if erle_db < MIN_ERLE_DB:
        return False, (
            f"the canceller removes only {erle_db:.1f} dB of echo: lower the volume "
            "(a distorting speaker) or move the microphone away from the speaker"
        )
    return True, (
        f"the canceller can work here: it removes {erle_db:.1f} dB of echo "
        f"({echo_dbfs:.0f} dBFS at the mic over {noise_dbfs:.0f} dBFS of noise)"
    )
