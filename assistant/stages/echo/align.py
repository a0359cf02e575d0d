"""Lining the reference up with the microphone: the echo's delay, found by
cross-correlation (GCC-PHAT), its drift between two sound cards' clocks, and
reading the reference at a fractional position.

All pure numpy, no state shared between threads. Delays are in samples at
the stream's rate: how much later a reference sample reaches the mic than
the timestamps alone say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MIN_PEAK_RATIO = 6.0
"""A correlation peak must stand this many times above the correlation's
median magnitude to count (speech against its own echo gives 20-100)."""


def gcc_phat(mic: np.ndarray, reference: np.ndarray, max_lag: int) -> tuple[float, float] | None:
    """The lag in samples (0..max_lag, sub-sample) by which ``mic`` follows
    ``reference``, and the peak's strength (peak over median magnitude), or
    None when there is no clear peak (silence, no echo).

    ``reference`` starts ``max_lag`` samples before ``mic`` and is
    ``max_lag`` longer, so every lag sees a full window of both.
    """
    n = len(mic)
    if n == 0 or len(reference) < n + max_lag:
        return None
    size = 1 << int(np.ceil(np.log2(n + len(reference))))
    spectrum = np.fft.rfft(mic.astype(np.float64), size) * np.conj(
        np.fft.rfft(reference.astype(np.float64), size)
    )
    # PHAT: keep only the phase, so the room's colour and the speech's own
    # harmonics do not smear the peak.
    spectrum /= np.abs(spectrum) + 1e-9 * (np.abs(spectrum).max() + 1e-30)
    corr = np.fft.irfft(spectrum, size)
    # mic[i] ~ reference[i + max_lag - L] puts lag L at index L - max_lag.
    lags = corr[(np.arange(max_lag + 1) - max_lag) % size]
    best = int(np.argmax(lags))
    floor = float(np.median(np.abs(corr))) + 1e-12
    strength = float(lags[best]) / floor
    if strength < _MIN_PEAK_RATIO:
        return None
    return best + _parabolic(lags, best), strength


def _parabolic(values: np.ndarray, i: int) -> float:
    """Sub-sample offset of the peak at ``i`` from the parabola through its neighbours."""
    if i == 0 or i == len(values) - 1:
        return 0.0
    a, b, c = values[i - 1], values[i], values[i + 1]
    denominator = a - 2 * b + c
    return 0.0 if denominator == 0 else float(0.5 * (a - c) / denominator)


@dataclass
class DelayTrack:
    """Delay estimates over time, fitted to a line: an offset and a drift.

    `add` takes one estimate (the mic sample it was made at, and the delay);
    one that falls more than `jump` samples off the line means the path
    moved (a new device latency), and the track starts over from it.
    """

    jump: float = 4.0
    """Samples off the line that count as a move."""
    keep: int = 12
    """Estimates kept for the fit."""
    min_span: int = 16000
    """Mic samples the estimates must span before a slope is fitted."""
    points: list[tuple[int, float]] | None = None
    moves: int = 0
    """How many times the delay moved and was re-estimated."""
    slope: float = 0.0
    """Delay change per mic sample (drift): 1e-4 is +100 ppm."""

    def add(self, at: int, delay: float) -> bool:
        """Record ``delay`` measured at mic sample ``at``; True when it moved."""
        moved = False
        if not self.points:
            self.points = []
        elif abs(delay - self.predict(at)) > self.jump:
            # Two in a row off the line is a move; one is an outlier.
            if self._pending is not None and abs(delay - self._pending) <= self.jump:
                self.points = [(self._pending_at, self._pending)]
                self.slope = 0.0
                self.moves += 1
                moved = True
            else:
                self._pending, self._pending_at = delay, at
                return False
        self._pending = None
        self.points = [*self.points, (at, delay)][-self.keep :]
        self._fit()
        return moved

    _pending: float | None = None
    _pending_at: int = 0

    def _fit(self) -> None:
        at = np.array([p[0] for p in self.points], np.float64)
        delay = np.array([p[1] for p in self.points])
        if at.max() - at.min() >= self.min_span and len(at) >= 2:
            self.slope = float(np.polyfit(at, delay, 1)[0])

    def predict(self, at: int) -> float:
        """The delay at mic sample ``at`` on the fitted line (NaN before any estimate)."""
        if not self.points:
            return float("nan")
        at_ = np.array([p[0] for p in self.points], np.float64)
        delay = np.array([p[1] for p in self.points])
        # The line through the points' mean with the fitted slope: robust
        # to the single estimates' sub-sample noise.
        return float(np.mean(delay) + self.slope * (at - np.mean(at_)))


def _table(phases: int = 64, taps: int = 16) -> np.ndarray:
    """Kaiser-windowed sinc interpolators, one row per fractional phase."""
    offsets = np.arange(taps) - (taps // 2 - 1)  # -7..8 for 16 taps
    frac = np.arange(phases)[:, None] / phases
    x = offsets[None, :] - frac
    rows = np.sinc(x) * np.kaiser(taps, 8.0)[None, :]
    return rows / rows.sum(axis=1, keepdims=True)


_TABLE = _table()
_TAPS_BEFORE = 7


def read_fractional(buffer: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``buffer`` read at float ``positions`` with a 16-tap windowed sinc;
    positions outside it read as silence. Float64 out."""
    base = np.floor(positions).astype(np.int64)
    phase = np.rint((positions - base) * len(_TABLE)).astype(np.int64)
    base += phase // len(_TABLE)
    phase %= len(_TABLE)
    index = base[:, None] + np.arange(-_TAPS_BEFORE, _TABLE.shape[1] - _TAPS_BEFORE)[None, :]
    inside = (index >= 0) & (index < len(buffer))
    values = np.where(inside, buffer[np.clip(index, 0, max(len(buffer) - 1, 0))], 0.0)
    return np.sum(values * _TABLE[phase], axis=1)
