"""Real human English recordings: ``benchmarks/real_speech/``.

Each clip is a 16 kHz mono 16-bit WAV cut tight around its speech (see
``benchmarks/real_speech/SOURCES.md`` for where each one comes from, its
licence and how it was cut), listed with what is said in
``transcripts.tsv`` (file, a tab, the text as spoken). `real_clips` reads
that list; `voiced_span` is the energy measure the clips were cut with and
that ``tests/bench/test_real_speech.py`` checks them with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parents[2] / "benchmarks" / "real_speech"

FRAME_S = 0.01
"""Length of the frames the energy is measured on, in seconds."""
SMOOTH_FRAMES = 5
"""Levels are averaged over this many frames (50 ms), so a noise floor that
flickers by a few dB from frame to frame stays on one side of the threshold."""
BELOW_PEAK_DB = 50.0
"""A stretch is voiced when its level is within this many dB of the clip's
loudest (low enough to keep a final fricative of 8 kHz telephone audio) ..."""
ABOVE_NOISE_DB = 10.0
"""... and at least this far above the clip's noise floor: its quietest
stretch, leaving out digital silence (below `DIGITAL_SILENCE_DBFS`)."""
DIGITAL_SILENCE_DBFS = -90.0


@dataclass(frozen=True)
class RealClip:
    """One recording and what is said in it."""

    path: Path
    text: str
    """The reference transcript, as spoken (normalised by `assistant.bench.wer`)."""


def real_clips(folder: Path = FOLDER) -> list[RealClip]:
    """The clips listed in ``folder/transcripts.tsv``, in its order."""
    clips = []
    for number, line in enumerate((folder / "transcripts.tsv").read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise ValueError(f"{folder / 'transcripts.tsv'} line {number}: want FILE<TAB>TEXT")
        clips.append(RealClip(folder / name, text.strip()))
    return clips


def frame_dbfs(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """RMS level of each whole `FRAME_S` frame of int16 ``samples``, in dBFS."""
    size = round(rate_hz * FRAME_S)
    count = len(samples) // size
    frames = samples[: count * size].astype(np.float64).reshape(count, size) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-9))


def voiced_span(samples: np.ndarray, rate_hz: int) -> tuple[float, float]:
    """(start of the first voiced frame, end of the last one), in seconds.

    Levels are `frame_dbfs`, smoothed over `SMOOTH_FRAMES`; voiced means
    above both `BELOW_PEAK_DB` under the peak and `ABOVE_NOISE_DB` over the
    noise floor.
    """
    raw = frame_dbfs(samples, rate_hz)
    window = np.ones(SMOOTH_FRAMES)
    power = np.convolve(10 ** (raw / 10), window, "same") / np.convolve(raw * 0 + 1, window, "same")
    levels = 10 * np.log10(power)
    threshold = levels.max() - BELOW_PEAK_DB
    heard = levels[raw > DIGITAL_SILENCE_DBFS]
    if len(heard):
        threshold = max(threshold, heard.min() + ABOVE_NOISE_DB)
    voiced = np.flatnonzero(levels >= threshold)
    return voiced[0] * FRAME_S, (voiced[-1] + 1) * FRAME_S
